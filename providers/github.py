"""GitHub Models: retired by GitHub on 2026-07-30; kept so that old setups get a clear answer.

Every call now answers HTTP 410 ``github_models_retirement_brownout``; this module turns
that into a message naming the routes that still work.
"""

from __future__ import annotations

from providers.base import ModelEntry
from providers.errors import GITHUB_RETIREMENT_DATE, ProviderError, RetiredError, retired_message
from providers.lazy import lazy_import
from providers.openai_style import OpenAIStyleProvider
from providers.spec import EnvVar, ProviderSpec

openai = lazy_import("openai")  # first use: providers.lazy

SPEC = ProviderSpec(
    "github", "GitHub Models", "GitHubModelsProvider",
    status_note=f"retired by GitHub on {GITHUB_RETIREMENT_DATE}: every call answers HTTP 410",
    env=(EnvVar("GITHUB_TOKEN", "GitHub token with Models: read (the service is retired)",
                secret=True, required=True),
         EnvVar("GITHUB_MODELS_ENDPOINT", "GitHub Models inference endpoint",
                default="https://models.github.ai/inference")),
    working=False, retired=True,
    service=f"GitHub Models: **retired by GitHub on {GITHUB_RETIREMENT_DATE}**; every call "
            "answers HTTP 410, which the playground reports with the routes that still work",
    sdk="`openai`", needs="token")



class GitHubModelsProvider(OpenAIStyleProvider):
    id = "github"
    base_url_var = "GITHUB_MODELS_ENDPOINT"
    key_var = "GITHUB_TOKEN"

    async def list_models(self) -> list[ModelEntry]:
        # The catalog endpoint was retired with the service; only the curated list remains.
        return []

    def translate(self, exc: openai.APIError) -> ProviderError:
        if isinstance(exc, openai.APIStatusError) and exc.status_code == 410:
            return RetiredError(retired_message(), provider=self.id, status=410)
        return super().translate(exc)
