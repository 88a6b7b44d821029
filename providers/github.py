"""GitHub Models: retired by GitHub on 2026-07-30; kept so that old setups get a clear answer.

Every call now answers HTTP 410 ``github_models_retirement_brownout``; this module turns
that into a message naming the routes that still work.
"""

from __future__ import annotations

import openai

from providers.base import ModelEntry
from providers.errors import GITHUB_RETIREMENT_DATE, WORKING_ROUTES, ProviderError, RetiredError
from providers.openai_style import OpenAIStyleProvider
from providers.settings import EnvVar

RETIRED_MESSAGE = (
    f"GitHub Models was retired by GitHub on {GITHUB_RETIREMENT_DATE}; every call now "
    f"answers HTTP 410. Use a route that still works: {WORKING_ROUTES}."
)


class GitHubModelsProvider(OpenAIStyleProvider):
    id = "github"
    title = "GitHub Models"
    status_note = f"retired by GitHub on {GITHUB_RETIREMENT_DATE}: every call answers HTTP 410"
    base_url_var = "GITHUB_MODELS_ENDPOINT"
    key_var = "GITHUB_TOKEN"
    env = (
        EnvVar("GITHUB_TOKEN", "GitHub token with Models: read (the service is retired)",
               secret=True, required=True),
        EnvVar("GITHUB_MODELS_ENDPOINT", "GitHub Models inference endpoint",
               default="https://models.github.ai/inference"),
    )

    async def list_models(self) -> list[ModelEntry]:
        # The catalog endpoint was retired with the service; only the curated list remains.
        return []

    def translate(self, exc: openai.APIError) -> ProviderError:
        if isinstance(exc, openai.APIStatusError) and exc.status_code == 410:
            return RetiredError(RETIRED_MESSAGE, provider=self.id, status=410)
        return super().translate(exc)
