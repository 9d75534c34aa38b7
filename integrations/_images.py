"""Image URLs in chat messages, inlined as the base64 data URIs Ollama's ``/v1`` accepts.

Ollama answers an ``http(s)`` image URL with 400 ("image URLs are not currently
supported"); OpenAI's API and every framework built for it send URLs freely.
The transports fetch each such image once (bounded in size and time, and only
when the server says it is a JPEG, PNG or WebP image) and send its bytes instead.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx

__all__ = [
    "IMAGE_MAX_BYTES",
    "IMAGE_TIMEOUT",
    "ImageRefused",
    "fetch_image",
    "fetch_image_async",
    "image_parts",
    "is_remote",
    "part_url",
    "set_part_url",
]

IMAGE_MAX_BYTES = 20 * 1024 * 1024
"""The largest image fetched (OpenAI's own limit per image)."""
IMAGE_TIMEOUT = 15.0
"""Seconds allowed to fetch one image, connect included."""
_TYPES = {"image/jpeg": "image/jpeg", "image/jpg": "image/jpeg", "image/png": "image/png", "image/webp": "image/webp"}


class ImageRefused(Exception):
    """An image URL that cannot be inlined; the message says why and what to send instead."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(
            f"image URL {url!r} cannot be sent to Ollama: {reason}. Pass a reachable http(s) URL of a JPEG, PNG "
            f"or WebP image up to {IMAGE_MAX_BYTES // (1024 * 1024)} MiB, or the image as a base64 data URI"
        )


def image_parts(messages: Any) -> Iterator[dict[str, Any]]:
    """The ``image_url`` content parts of chat messages (the dicts themselves, for rewriting in place)."""
    if not isinstance(messages, list):
        return
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        for part in content:
            if isinstance(part, dict) and part.get("type") == "image_url":
                yield part


def part_url(part: dict[str, Any]) -> str | None:
    """The URL of an ``image_url`` part (``{"url": ...}`` or, as Ollama also accepts, a plain string)."""
    value = part.get("image_url")
    if isinstance(value, dict):
        value = value.get("url")
    return value if isinstance(value, str) else None


def set_part_url(part: dict[str, Any], url: str) -> None:
    value = part.get("image_url")
    part["image_url"] = {**value, "url": url} if isinstance(value, dict) else {"url": url}


def is_remote(url: str) -> bool:
    return url[:8].lower().startswith(("http://", "https://"))


def _media_type(url: str, response: httpx.Response) -> str:
    if response.status_code != 200:
        raise ImageRefused(url, f"fetching it answered with status {response.status_code}")
    declared = response.headers.get("content-type", "").split(";")[0].strip().lower()
    media = _TYPES.get(declared)
    if media is None:
        raise ImageRefused(
            url, f"its content type is {declared or 'not given'}, not image/jpeg, image/png or image/webp"
        )
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > IMAGE_MAX_BYTES:
        raise ImageRefused(url, f"it is {int(length)} bytes, more than the {IMAGE_MAX_BYTES} allowed")
    return media


def _grow(url: str, data: bytearray, chunk: bytes) -> None:
    data += chunk
    if len(data) > IMAGE_MAX_BYTES:
        raise ImageRefused(url, f"it is larger than the {IMAGE_MAX_BYTES} bytes allowed")


def _data_uri(media: str, data: bytearray) -> str:
    return f"data:{media};base64,{base64.b64encode(bytes(data)).decode('ascii')}"


def fetch_image(url: str, client: httpx.Client) -> str:
    """The image at ``url`` as a data URI; raises `ImageRefused`."""
    data = bytearray()
    try:
        with client.stream("GET", url) as response:
            media = _media_type(url, response)
            for chunk in response.iter_bytes():
                _grow(url, data, chunk)
    except httpx.TimeoutException as exc:
        raise ImageRefused(url, f"fetching it took longer than {IMAGE_TIMEOUT:g} s") from exc
    except httpx.HTTPError as exc:
        raise ImageRefused(url, f"fetching it failed ({exc})") from exc
    return _data_uri(media, data)


async def fetch_image_async(url: str, client: httpx.AsyncClient) -> str:
    """The asynchronous twin of `fetch_image`."""
    data = bytearray()
    try:
        async with client.stream("GET", url) as response:
            media = _media_type(url, response)
            async for chunk in response.aiter_bytes():
                _grow(url, data, chunk)
    except httpx.TimeoutException as exc:
        raise ImageRefused(url, f"fetching it took longer than {IMAGE_TIMEOUT:g} s") from exc
    except httpx.HTTPError as exc:
        raise ImageRefused(url, f"fetching it failed ({exc})") from exc
    return _data_uri(media, data)
