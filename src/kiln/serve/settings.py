"""How a server runs: read once from `kiln serve` flags and KILN_SERVE_* variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServeSettings(BaseSettings):
    """Every limit has a safe default; each is a flag of `kiln serve` or a KILN_SERVE_<NAME> variable."""

    model_config = SettingsConfigDict(env_prefix="KILN_SERVE_", frozen=True, extra="forbid")

    model: str = Field(description="A bundle folder or models:/NAME@ALIAS.")
    api_key: str | None = Field(default=None, description="Required in X-API-Key on all but /, /health.")
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1, description="Larger bodies get 413.")
    max_rows: int = Field(default=10_000, ge=1, description="More rows in one request get 413.")
    max_json_depth: int = Field(default=8, ge=3, description="Deeper JSON nesting gets 422 (records are depth 3).")
    request_timeout_s: float = Field(default=30.0, gt=0, description="Longer predictions get 504.")
    follow_interval_s: float = Field(default=2.0, gt=0, description="How often an alias is re-read.")
    drain_s: float = Field(default=1.0, ge=0, description="After SIGTERM: /ready is 503 this long before closing.")
    log_predictions: bool = Field(default=True, description="Append every prediction to the log in KILN_DB.")
    log_batch_rows: int = Field(default=500, ge=1, description="The writer inserts this many rows at a time.")
    log_flush_s: float = Field(default=1.0, gt=0, description="…or what it has after this many seconds.")
    log_queue_rows: int = Field(default=50_000, ge=1, description="Rows waiting beyond this are dropped, counted.")
    inline_rows: int = Field(default=64, ge=1, description="Requests up to this many rows run on the event loop.")
