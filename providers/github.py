"""GitHub Models: retired by GitHub on 2026-07-30; kept so that old setups get a clear answer.

Every call now answers HTTP 410 ``github_models_retirement_brownout``; this module turns
that into a message naming the routes that still work.
"""

from __future__ import annotations

from providers.base import ModelEntry
from providers.errors import RETIRED_MESSAGE, ProviderError, RetiredError
from providers.lazy import lazy_import
from providers.openai_style import OpenAIStyleProvider

openai = lazy_import("openai")  # first use: providers.lazy



class GitHubModelsProvider(OpenAIStyleProvider):
    id = "github"
    base_url_var = "GITHUB_MODELS_ENDPOINT"
    key_var = "GITHUB_TOKEN"

    async def list_models(self) -> list[ModelEntry]:
        # The catalog endpoint was retired with the service; only the curated list remains.
        return []

    def translate(self, exc: openai.APIError) -> ProviderError:
        if isinstance(exc, openai.APIStatusError) and exc.status_code == 410:
            return RetiredError(RETIRED_MESSAGE, provider=self.id, status=410)
        return super().translate(exc)
