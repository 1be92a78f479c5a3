"""Receiving a ``/check`` upload: streamed to a private temporary file, with a size cap and deadlines.

A stranger controls how fast the body arrives and what it holds. So the body is parsed as it comes
(python-multipart) and only the ``file`` field is written, to disk, never held in memory; it must
arrive within :data:`UPLOAD_SECONDS` (and no gap may exceed :data:`IDLE_SECONDS`); at most
:data:`MAX_RECEIVING` uploads are received at once, and receiving holds no checker slot, so two slow
senders cannot keep everyone else from the checker. Any failure is an :class:`UploadRefused` with a
status and a message for the page; the caller deletes the folder whatever happens.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

MAX_UPLOAD = 50 * 1024 * 1024
FORM_OVERHEAD = 64 * 1024  # multipart headers and other small fields
UPLOAD_SECONDS = 120.0  # 50 MB at ~3.5 Mbit/s
IDLE_SECONDS = 15.0
MAX_RECEIVING = 6


class UploadRefused(Exception):
    """The upload cannot be checked; ``status`` and ``message`` are for the page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Slots:
    """A count of uploads in progress (a counter works across the event loops tests create)."""

    def __init__(self, size: int) -> None:
        self.size, self.used = size, 0

    def take(self) -> bool:
        if self.used >= self.size:
            return False
        self.used += 1
        return True

    def give(self) -> None:
        self.used -= 1


receiving = _Slots(MAX_RECEIVING)


async def receive_upload(request, folder: Path, limit: int = MAX_UPLOAD) -> tuple[str, Path]:
    """Stream the request's multipart ``file`` field to a file in ``folder``; return (name, path)."""
    length = request.headers.get("content-length") or "0"
    too_large = UploadRefused(413, f"The file is larger than {max(1, limit // 2**20)} MB.")
    if not length.isdigit():
        raise UploadRefused(400, "The upload's Content-Length is not a number.")
    if int(length) > limit + FORM_OVERHEAD:
        raise too_large
    if not receiving.take():
        raise UploadRefused(503, "Too many files are being uploaded right now. Please try again in a minute.")
    try:
        form = _FormWriter(request.headers.get("content-type", ""), folder)
        await _pump(request.receive, form, limit + FORM_OVERHEAD, too_large)
        return form.result(limit, too_large)
    finally:
        receiving.give()


async def _pump(receive, form: _FormWriter, cap: int, too_large: UploadRefused) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + UPLOAD_SECONDS
    size, more = 0, True
    while more:
        wait = min(IDLE_SECONDS, deadline - loop.time())
        try:
            if wait <= 0:
                raise TimeoutError
            message = await asyncio.wait_for(receive(), timeout=wait)
        except TimeoutError:
            raise UploadRefused(
                408, "The upload arrived too slowly and was stopped. Please try again."
            ) from None
        if message.get("type") == "http.disconnect":
            raise UploadRefused(400, "The upload was interrupted.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            form.close()
            raise too_large
        form.write(chunk)
        more = message.get("more_body", False)
    form.finish()


class _FormWriter:
    """A multipart/form-data parser that writes the ``file`` field's bytes to disk as they arrive."""

    def __init__(self, content_type: str, folder: Path) -> None:
        from python_multipart.multipart import MultipartParser, parse_options_header

        self._parse_header = parse_options_header
        ctype, params = parse_options_header(content_type)
        boundary = params.get(b"boundary")
        if ctype != b"multipart/form-data" or not boundary:
            raise UploadRefused(400, "No file was uploaded. Choose a file and press Check.")
        self.folder = folder
        self.name, self.path, self._out = "", None, None
        self._headers: dict[bytes, bytes] = {}
        self._field, self._value = b"", b""
        try:
            self._parser = MultipartParser(
                boundary,
                {
                    "on_part_begin": self._headers.clear,
                    "on_header_field": self._on_field,
                    "on_header_value": self._on_value,
                    "on_header_end": self._on_header_end,
                    "on_headers_finished": self._on_headers_finished,
                    "on_part_data": self._on_data,
                    "on_part_end": self._on_part_end,
                    "on_end": self._on_end,
                },
            )
        except Exception as exc:  # noqa: BLE001 - e.g. a boundary over 256 characters (FormParserError)
            raise UploadRefused(
                400, "The upload was not a well-formed form. Please choose the file again."
            ) from exc
        self._ended = False

    def _on_end(self) -> None:
        self._ended = True

    def _on_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _on_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _on_header_end(self) -> None:
        if len(self._headers) < 16:
            self._headers[self._field.lower()[:100]] = self._value[:1000]
        self._field, self._value = b"", b""

    def _on_headers_finished(self) -> None:
        _, disp = self._parse_header(self._headers.get(b"content-disposition", b""))
        if disp.get(b"name") == b"file" and self.path is None:
            raw = (disp.get(b"filename") or b"upload").decode("utf-8", "replace")
            self.name = Path(raw.replace("\\", "/")).name[:120].strip() or "upload"
            self.path = self.folder / ("upload" + "".join(Path(self.name).suffixes[-1:])[:10])
            self._out = open(self.path, "wb")  # noqa: SIM115 - closed in _on_part_end / finish

    def _on_data(self, data: bytes, start: int, end: int) -> None:
        if self._out is not None:
            self._out.write(data[start:end])

    def _on_part_end(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def write(self, chunk: bytes) -> None:
        try:
            self._parser.write(chunk)
        except Exception as exc:  # noqa: BLE001 - python-multipart raises several types on bad bodies
            self.close()
            raise UploadRefused(
                400, "The upload was not a well-formed form. Please choose the file again."
            ) from exc

    def finish(self) -> None:
        try:
            self._parser.finalize()
        except Exception:  # noqa: BLE001 - a truncated body: said below
            self._ended = False
        finally:
            self.close()
        if not self._ended:
            raise UploadRefused(400, "The upload was cut short (the form never ended). Please try again.")

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def result(self, limit: int, too_large: UploadRefused) -> tuple[str, Path]:
        if self.path is None or not self.path.exists() or self.path.stat().st_size == 0:
            raise UploadRefused(400, "No file was uploaded. Choose a file and press Check.")
        if self.path.stat().st_size > limit:
            raise too_large
        return self.name, self.path
