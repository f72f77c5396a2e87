"""How a server runs: read once from `kiln serve` flags and KILN_SERVE_* variables."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServeSettings(BaseSettings):
    """Every limit has a safe default; each is a flag of `kiln serve` or a KILN_SERVE_<NAME> variable."""

    model_config = SettingsConfigDict(env_prefix="KILN_SERVE_", frozen=True, extra="forbid")

    model: str = Field(description="A bundle folder or models:/NAME@ALIAS.")
    host: str = Field(default="127.0.0.1", description="The bind address; also a name the Host header may give.")
    api_key: str | None = Field(default=None, description="Required in X-API-Key on all but GET / and /health.")
    allowed_hosts: tuple[str, ...] = Field(default=(), description="More names the Host header may give "
                                           "('*.example.com', or '*' for any), besides the bind address and localhost.")
    cors_origins: tuple[str, ...] = Field(default=(), description="Origins whose pages may call the API (CORS); "
                                          "none by default.")
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1, description="Larger bodies get 413.")
    max_rows: int = Field(default=10_000, ge=1, description="More rows in one request get 413.")
    max_columns: int = Field(default=1_000, ge=1, description="A CSV header or JSON record with more columns gets 413.")
    max_cells: int = Field(default=2_000_000, ge=1, description="A CSV batch with more cells (rows × columns) "
                           "gets 413.")
    max_json_depth: int = Field(default=8, ge=3, description="Deeper JSON nesting gets 422 (records are depth 3).")
    max_header_bytes: int = Field(default=64 * 1024, ge=1024, description="Longer request heads (request line and "
                                  "headers) get 431 and the connection is closed.")
    header_timeout_s: float = Field(default=10.0, gt=0, description="A connection that has not sent its whole "
                                    "request head this long after it opened (or began a request) is closed.")
    body_timeout_s: float = Field(default=30.0, gt=0, description="A body not received this long after its "
                                  "headers gets 408 (a client trickling it in holds a connection, never the loop).")
    request_timeout_s: float = Field(default=30.0, gt=0, description="Parsing, checking and predicting a received "
                                     "body past this get 504.")
    follow_interval_s: float = Field(default=2.0, gt=0, description="How often an alias is re-read.")
    drain_s: float = Field(default=1.0, ge=0, description="After SIGTERM: /ready is 503 this long before closing.")
    log_predictions: bool = Field(default=True, description="Append every prediction to the log in KILN_DB.")
    log_batch_rows: int = Field(default=500, ge=1, description="The writer inserts this many rows at a time.")
    log_flush_s: float = Field(default=1.0, gt=0, description="…or what it has after this many seconds.")
    log_queue_rows: int = Field(default=50_000, ge=1, description="At most this many rows wait for the writer; a "
                                "request that finds no room waits for it (back-pressure).")
    log_wait_s: float = Field(default=5.0, ge=0, description="…up to this long (and its own timeout), then its "
                              "rows are dropped, counted (0: drop at once, never wait; no wait while the "
                              "database is down).")
    batching: bool = Field(default=True, description="Predict concurrent small requests together (micro-batching).")
    batch_window_ms: float = Field(default=1.0, ge=0, le=50, description="How long a small request waits for the "
                                   "others inside /predict before they are predicted together.")
    inline_rows: int = Field(default=64, ge=1, description="Requests up to this many rows run on the event loop.")
    inline_body_bytes: int = Field(default=64 * 1024, ge=0, description="Bodies up to this size are parsed on the "
                                   "event loop; larger ones in a worker thread, so the loop keeps answering.")

    @field_validator("api_key")
    @classmethod
    def _key_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("the API key is empty, which would let a request with an empty X-API-Key header in; "
                             "give a non-empty key, or leave --api-key and KILN_API_KEY unset to serve without one")
        return value
