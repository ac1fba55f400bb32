"""`tinylm serve`: an OpenAI-compatible HTTP API over one or more runs.

Routes: GET /v1/models, POST /v1/completions, POST /v1/chat/completions (both with `stream`
server-sent events), and GET /health. Errors are OpenAI error objects:
`{"error": {"message", "type", "param", "code"}}` with 400 for a malformed request, 404 for an
unknown model or route, 429 when every generation slot is busy.

Chat requests map to a story prompt as `tinylm.serve.prompts.chat_prompt` describes: the last
user message is the story beginning and the reply is its continuation.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tinylm.errors import TinylmError
from tinylm.generate import SamplingOptions
from tinylm.run import LoadedRun
from tinylm.serve.engine import Busy, Engine, GenerationStream, Slot
from tinylm.serve.prompts import chat_prompt
from tinylm.settings import MAX_SEED
from tinylm.version import __version__

DEFAULT_MAX_TOKENS = 256  # OpenAI's completions default (16) is too short for a story
MAX_BODY_BYTES = 1 << 20


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = (
            status,
            message,
            type_,
            param,
            code,
        )

    def response(self) -> JSONResponse:
        body = {"message": self.message, "type": self.type, "param": self.param, "code": self.code}
        return JSONResponse({"error": body}, status_code=self.status)


class ClosingStreamingResponse(StreamingResponse):
    """Closes its event generator however the response ends. When a client hangs up, the server
    stops sending mid-iteration; without this the generator (and its generation slot) would wait
    for the garbage collector."""

    async def stream_response(self, send: Callable) -> None:
        try:
            await super().stream_response(send)
        finally:
            await self.body_iterator.aclose()  # type: ignore[union-attr]


class BodyLimit:
    """Refuses request bodies over `max_bytes` with 413: at once when Content-Length says so,
    and while reading when it does not (a chunked upload would otherwise be read whole)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"request body over {self.max_bytes:,} bytes"
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            await ApiError(413, too_large).response()(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                # FastAPI passes an HTTPException raised while reading the body to its handler.
                raise StarletteHTTPException(413, too_large)
            return message

        await self.app(scope, counted, send)


# -- requests ---------------------------------------------------------------------------------


class StreamOptions(BaseModel):
    include_usage: bool = False


class SamplingRequest(BaseModel):
    """The fields both endpoints share. Unknown fields are ignored, as OpenAI's clients send
    some (`user`, `metadata`) that mean nothing here."""

    model_config = ConfigDict(extra="ignore")

    model: str
    max_tokens: int | None = Field(None, ge=0)
    temperature: float = Field(1.0, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    top_k: int | None = Field(None, ge=1)  # not OpenAI's; vLLM and llama.cpp accept it too
    n: int = Field(1, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = Field(None, ge=0, le=MAX_SEED)
    stream: bool = False
    stream_options: StreamOptions | None = None
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    logprobs: Any = None
    logit_bias: dict[str, float] | None = None

    def stops(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    def options(self, max_tokens: int | None) -> SamplingOptions:
        return SamplingOptions(
            max_new_tokens=DEFAULT_MAX_TOKENS if max_tokens is None else max_tokens,
            temperature=self.temperature,
            top_k=self.top_k,
            top_p=self.top_p,
            seed=self.seed,
        )

    def check_supported(self) -> None:
        unsupported = {
            "presence_penalty": self.presence_penalty != 0,
            "frequency_penalty": self.frequency_penalty != 0,
            "logprobs": self.logprobs not in (None, False, 0),
            "logit_bias": bool(self.logit_bias),
        }
        for name, used in unsupported.items():
            if used:
                raise ApiError(400, f"'{name}' is not supported by tinylm serve", param=name)


class CompletionRequest(SamplingRequest):
    prompt: str | list[str] = ""
    echo: bool = False
    suffix: str | None = None
    best_of: int | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: str
    content: Any = None


class ChatRequest(SamplingRequest):
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=0)


# -- app --------------------------------------------------------------------------------------


@dataclass
class ServedModel:
    id: str
    path: Path
    run: LoadedRun
    created: int


def served_models(run_dirs: list[str], engine: Engine) -> dict[str, ServedModel]:
    """Load every run up front (a bad path fails at start, not at the first request); a model's
    id is its folder name."""
    models: dict[str, ServedModel] = {}
    for run_dir in run_dirs:
        path = Path(run_dir)
        name = path.resolve().name
        if name in models:
            raise TinylmError(
                f"two runs are both named '{name}' ({models[name].path} and {path}); "
                "model ids are folder names, so rename one"
            )
        run = engine.load(path)
        created = int((path / "model.safetensors").stat().st_mtime)
        models[name] = ServedModel(name, path, run, created)
    return models


def create_app(models: dict[str, ServedModel], engine: Engine) -> FastAPI:
    app = FastAPI(title="tinylm", version=__version__, docs_url=None, redoc_url=None)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(ClientGone)
    async def _client_gone(request: Request, exc: ClientGone) -> Response:
        return Response(status_code=499)  # nobody reads it; the work has stopped

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p != "body"]
        param = ".".join(loc) or None
        if first.get("type") == "json_invalid":
            message, param = "the request body is not valid JSON", None
        else:
            message = f"{param or 'request'}: {first.get('msg', 'invalid value')}"
        return ApiError(400, message, param=param).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code == 404:
            message = (
                f"no route {request.method} {request.url.path}; this server has GET /v1/models, "
                "POST /v1/completions and POST /v1/chat/completions"
            )
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        return ApiError(exc.status_code, message).response()

    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)

    def model_for(name: str) -> ServedModel:
        if name not in models:
            raise ApiError(
                404,
                f"model '{name}' not found; this server has {', '.join(sorted(models))}",
                param="model",
                code="model_not_found",
            )
        return models[name]

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Up, and how many generation slots are free: "busy" when none is (a request would
        get 429), so a monitor sees a server whose slots are all taken."""
        free, total = engine.free_slots(), engine.limits.max_concurrent
        return {"status": "ok" if free else "busy", "slots": total, "free_slots": free}

    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        return {"object": "list", "data": [_model_card(m) for m in models.values()]}

    @app.get("/v1/models/{name}")
    async def get_model(name: str) -> dict[str, Any]:
        return _model_card(model_for(name))

    @app.post("/v1/completions", response_model=None)
    async def completions(
        request: Request, body: CompletionRequest
    ) -> JSONResponse | StreamingResponse:
        body.check_supported()
        if body.echo or body.suffix or (body.best_of or body.n) != body.n:
            raise ApiError(400, "echo, suffix and best_of are not supported by tinylm serve")
        prompts = [body.prompt] if isinstance(body.prompt, str) else body.prompt
        if not prompts:
            raise ApiError(400, "prompt must not be an empty list", param="prompt")
        served = model_for(body.model)
        options = body.options(body.max_tokens)
        job = _Job(request, engine, served, prompts, body, options, "text_completion")
        return await job.respond()

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(
        request: Request, body: ChatRequest
    ) -> JSONResponse | StreamingResponse:
        body.check_supported()
        try:
            prompt = chat_prompt([m.model_dump() for m in body.messages])
        except TinylmError as exc:
            raise ApiError(400, str(exc), param="messages") from None
        served = model_for(body.model)
        max_tokens = body.max_completion_tokens or body.max_tokens
        options = body.options(max_tokens)
        job = _Job(request, engine, served, [prompt], body, options, "chat.completion")
        return await job.respond()

    return app


def _model_card(model: ServedModel) -> dict[str, Any]:
    return {"id": model.id, "object": "model", "created": model.created, "owned_by": "tinylm"}


# -- one request ------------------------------------------------------------------------------


class _Job:
    """One completion or chat request: reserve a slot, generate each prompt with n samples,
    answer as one JSON object or as server-sent events."""

    def __init__(
        self,
        request: Request,
        engine: Engine,
        served: ServedModel,
        prompts: list[str],
        body: SamplingRequest,
        options: SamplingOptions,
        kind: Literal["text_completion", "chat.completion"],
    ) -> None:
        self.request = request
        self.engine, self.served, self.prompts, self.body = engine, served, prompts, body
        self.options, self.kind = options, kind
        self.chat = kind == "chat.completion"
        self.id = ("chatcmpl-" if self.chat else "cmpl-") + uuid.uuid4().hex[:24]
        self.created = int(time.time())

    def _open(self, slot: Slot, prompt: str) -> GenerationStream:
        try:
            return slot.stream(
                self.served.run, prompt, self.options, self.body.n, self.body.stops()
            )
        except TinylmError as exc:
            raise ApiError(400, str(exc)) from None

    def _reserve(self) -> Slot:
        try:
            return self.engine.reserve()
        except Busy as exc:
            raise ApiError(429, str(exc), type_="server_busy", code="rate_limit_exceeded") from None

    async def respond(self) -> JSONResponse | StreamingResponse:
        limits = self.engine.limits
        try:  # a request over the limits is a 400 even on a busy server
            limits.check_request(len(self.prompts), self.body.n, self.options.max_new_tokens)
            for prompt in self.prompts:
                limits.check(prompt, self.options, self.body.n, self.body.stops())
        except TinylmError as exc:
            raise ApiError(400, str(exc)) from None
        slot = self._reserve()
        try:
            first = self._open(slot, self.prompts[0])  # limits checked before any reply
        except BaseException:
            slot.release()
            raise
        if self.body.stream:
            events = self._events(slot, first)
            return ClosingStreamingResponse(events, media_type="text/event-stream")
        try:
            return JSONResponse(await self._whole(slot, first))
        finally:
            slot.release()

    async def _whole(self, slot: Slot, first: GenerationStream) -> dict[str, Any]:
        choices: list[dict[str, Any]] = []
        usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        for p, prompt in enumerate(self.prompts):
            stream = first if p == 0 else self._open(slot, prompt)
            try:
                # One model step at a time in a worker thread: a client that hung up stops the
                # work at the next step and frees the slot, instead of holding it to the end.
                while await anyio.to_thread.run_sync(_next_or_none, stream) is not None:
                    if await self.request.is_disconnected():
                        raise ClientGone
            finally:
                stream.close()
            for i, text in enumerate(stream.texts):
                choices.append(self._choice(p * self.body.n + i, text, stream.finish_reasons[i]))
            for key, value in stream.usage.items():
                usage[key] += value
        return {
            "id": self.id,
            "object": self.kind,
            "created": self.created,
            "model": self.served.id,
            "system_fingerprint": f"tinylm-{__version__}",
            "choices": choices,
            "usage": usage,
        }

    def _choice(self, index: int, text: str, reason: str | None) -> dict[str, Any]:
        if self.chat:
            message = {"role": "assistant", "content": text}
            return {"index": index, "message": message, "finish_reason": reason, "logprobs": None}
        return {"index": index, "text": text, "finish_reason": reason, "logprobs": None}

    def _chunk(self, choices: list[dict[str, Any]], usage: dict | None = None) -> str:
        payload: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk" if self.chat else "text_completion",
            "created": self.created,
            "model": self.served.id,
            "system_fingerprint": f"tinylm-{__version__}",
            "choices": choices,
        }
        if usage is not None:
            payload["usage"] = usage
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    def _delta(self, index: int, text: str | None, reason: str | None = None) -> dict[str, Any]:
        if self.chat:
            delta = {} if text is None else {"content": text}
            return {"index": index, "delta": delta, "finish_reason": reason, "logprobs": None}
        return {"index": index, "text": text or "", "finish_reason": reason, "logprobs": None}

    async def _events(self, slot: Slot, first: GenerationStream) -> AsyncIterator[str]:
        n = self.body.n
        usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        stream: GenerationStream | None = first
        try:
            for p, prompt in enumerate(self.prompts):
                stream = first if p == 0 else self._open(slot, prompt)
                base = p * n
                if self.chat:
                    starts = [
                        {"index": base + i, "delta": {"role": "assistant", "content": ""}}
                        for i in range(n)
                    ]
                    yield self._chunk(
                        [{**c, "finish_reason": None, "logprobs": None} for c in starts]
                    )
                ended = [False] * n
                while True:
                    # One model step in a worker thread; a disconnect cancels between steps.
                    pieces = await anyio.to_thread.run_sync(_next_or_none, stream)
                    if pieces is None:
                        break
                    deltas = []
                    for i, piece in enumerate(pieces):
                        if piece:
                            deltas.append(self._delta(base + i, piece))
                        reason = stream.finish_reasons[i]
                        if reason is not None and not ended[i]:
                            ended[i] = True
                            deltas.append(self._delta(base + i, None, reason))
                    if deltas:
                        yield self._chunk(deltas)
                closing = [
                    self._delta(base + i, None, stream.finish_reasons[i] or "length")
                    for i in range(n)
                    if not ended[i]
                ]
                if closing:
                    yield self._chunk(closing)
                for key, value in stream.usage.items():
                    usage[key] += value
                stream.close()
            options = self.body.stream_options
            if options is not None and options.include_usage:
                yield self._chunk([], usage)
            yield "data: [DONE]\n\n"
        finally:
            if stream is not None:
                stream.close()
            slot.release()


class ClientGone(Exception):
    """The client hung up before its answer was ready."""


def _next_or_none(stream: GenerationStream) -> list[str] | None:
    return next(stream, None)


def serve(
    run_dirs: list[str],
    host: str,
    port: int,
    engine: Engine,
    log_level: str = "info",
) -> None:
    import uvicorn

    models = served_models(run_dirs, engine)
    app = create_app(models, engine)
    print(
        f"serving {', '.join(models)} on http://{host}:{port}/v1 "
        f"(OpenAI-compatible; {engine.limits.max_concurrent} generations at once)",
        flush=True,
    )
    uvicorn.run(app, host=host, port=port, log_level=log_level)
