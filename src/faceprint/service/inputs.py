"""Request bodies: every image route takes either ``multipart/form-data`` (image files and plain
fields) or ``application/json`` (images as base64 strings, optionally ``data:`` URLs, and typed
fields). Image URLs are refused: the service never fetches anything (no SSRF).

The OpenAPI request body of each route is generated here from the same description the parser
uses, so the schema and the behaviour cannot drift apart.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass, field
from typing import Any

from faceprint.errors import InvalidInput


@dataclass(frozen=True)
class Param:
    """A non-image field: ``kind`` is ``int``, ``float``, ``str``, ``bool`` or ``json`` (an object)."""

    name: str
    kind: str
    description: str
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    enum: tuple[str, ...] | None = None
    max_length: int | None = None
    required: bool = False


@dataclass(frozen=True)
class Body:
    """What a route reads: image fields (``many`` allows a list) and parameters."""

    images: tuple[str, ...] = ("image",)
    many: tuple[str, ...] = ()
    params: tuple[Param, ...] = ()

    def openapi(self) -> dict[str, Any]:
        mp_props: dict[str, Any] = {}
        js_props: dict[str, Any] = {}
        for name in self.images:
            if name in self.many:
                mp_props[name] = {"type": "array", "items": {"type": "string", "format": "binary"}, "minItems": 1}
                js_props[name] = {
                    "type": "array",
                    "items": {"type": "string", "description": "base64 image bytes"},
                    "minItems": 1,
                }
            else:
                mp_props[name] = {"type": "string", "format": "binary"}
                js_props[name] = {"type": "string", "description": "base64 image bytes (or a data: URL)"}
        for p in self.params:
            s: dict[str, Any] = {"description": p.description}
            if p.kind == "json":
                s["type"] = "object"
                mp_props[p.name] = {"type": "string", "description": p.description + " (JSON text)"}
                js_props[p.name] = s
                continue
            s["type"] = {"int": "integer", "float": "number", "str": "string", "bool": "boolean"}[p.kind]
            if p.minimum is not None:
                s["minimum"] = p.minimum
            if p.maximum is not None:
                s["maximum"] = p.maximum
            if p.enum:
                s["enum"] = list(p.enum)
            if p.max_length:
                s["maxLength"] = p.max_length
                s["minLength"] = 1
            if p.default is not None:
                s["default"] = p.default
            mp_props[p.name] = s
            js_props[p.name] = dict(s)
        required = list(self.images) + [p.name for p in self.params if p.required]
        return {
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {"schema": {"type": "object", "properties": mp_props, "required": required}},
                    "application/json": {"schema": {"type": "object", "properties": js_props, "required": required}},
                },
            }
        }


@dataclass
class Payload:
    images: dict[str, list[bytes]] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    def image(self, name: str = "image") -> bytes:
        return self.images[name][0]


def _b64(value: Any, where: str) -> bytes:
    if not isinstance(value, str):
        raise InvalidInput(f"{where} must be a base64 string")
    s = value.strip()
    low = s[:16].lower()
    if low.startswith(("http:", "https:", "ftp:", "file:", "//")):
        raise InvalidInput(f"{where}: image URLs are not fetched; send the image bytes (multipart or base64)")
    if low.startswith("data:"):
        head, _, s = s.partition(",")
        if ";base64" not in head.lower():
            raise InvalidInput(f"{where}: only base64 data: URLs are accepted")
    try:
        data = base64.b64decode(s + "=" * (-len(s) % 4), altchars=b"-_" if ("-" in s or "_" in s) else None, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{where} is not valid base64") from None
    if not data:
        raise InvalidInput(f"{where} is empty")
    return data


#: deepest JSON nesting accepted in a body or a field (the API's own bodies are 3 levels deep)
MAX_JSON_DEPTH = 32


def _depth(v: Any) -> int:
    """Nesting depth of a decoded JSON value, without recursion (a hostile body can be 10^5 deep)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(v, 1)]
    while stack:
        item, d = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, d)
            if d <= MAX_JSON_DEPTH:
                stack.extend((x, d + 1) for x in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, d)
            if d <= MAX_JSON_DEPTH:
                stack.extend((x, d + 1) for x in item)
    return deepest


def _convert(p: Param, value: Any, from_text: bool) -> Any:
    where = f"field {p.name!r}"
    try:
        if p.kind == "json":
            v = json.loads(value) if from_text and isinstance(value, str) else value
            if not isinstance(v, dict):
                raise InvalidInput(f"{where} must be a JSON object")
            if _depth(v) > MAX_JSON_DEPTH:
                raise InvalidInput(f"{where} is nested more than {MAX_JSON_DEPTH} levels deep")
            if len(json.dumps(v)) > 10_000:
                raise InvalidInput(f"{where} is limited to 10,000 characters of JSON")
            return v
        if p.kind == "bool":
            if isinstance(value, bool):
                return value
            if from_text and isinstance(value, str) and value.lower() in ("true", "1", "yes", "on", "false", "0", "no", "off"):
                return value.lower() in ("true", "1", "yes", "on")
            raise InvalidInput(f"{where} must be a boolean")
        if p.kind == "int":
            if isinstance(value, float) and value.is_integer():
                value = int(value)  # JSON Schema's integer: 5.0 is one
            if isinstance(value, bool) or not (isinstance(value, int) or (from_text and isinstance(value, str))):
                raise InvalidInput(f"{where} must be an integer")
            v = int(value)
        elif p.kind == "float":
            if isinstance(value, bool) or not (isinstance(value, (int, float)) or (from_text and isinstance(value, str))):
                raise InvalidInput(f"{where} must be a number")
            v = float(value)
            if not math.isfinite(v):
                raise InvalidInput(f"{where} must be finite")
        else:
            if not isinstance(value, str):
                raise InvalidInput(f"{where} must be a string")
            v = value
            if p.max_length is not None and not 1 <= len(v) <= p.max_length:
                raise InvalidInput(f"{where} must have 1 to {p.max_length} characters")
            if p.enum and v not in p.enum:
                raise InvalidInput(f"{where} must be one of {', '.join(p.enum)}")
            return v
    except json.JSONDecodeError:
        raise InvalidInput(f"{where} is not valid JSON") from None
    except RecursionError:
        raise InvalidInput(f"{where} is nested too deeply") from None
    except (TypeError, ValueError, OverflowError) as e:
        if isinstance(e, InvalidInput):
            raise
        raise InvalidInput(f"{where} must be a {'whole number' if p.kind == 'int' else 'number'}") from None
    if (p.minimum is not None and v < p.minimum) or (p.maximum is not None and v > p.maximum):
        raise InvalidInput(f"{where} must be between {p.minimum:g} and {p.maximum:g}")
    return v


async def read_payload(request: Any, spec: Body, *, max_images: int) -> Payload:
    """Parse ``request`` by its content type according to ``spec`` (raises InvalidInput)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw: dict[str, Any] = {}
    out = Payload()
    if ctype == "multipart/form-data":
        form = await request.form(max_files=max_images + len(spec.images), max_fields=50)
        try:
            for key, value in form.multi_items():
                if key in spec.images:
                    if isinstance(value, str):
                        raise InvalidInput(f"field {key!r} must be an uploaded file")
                    data = await value.read()
                    if not data:
                        raise InvalidInput(f"field {key!r}: the uploaded file is empty")
                    out.images.setdefault(key, []).append(data)
                elif isinstance(value, str):
                    raw[key] = value
        finally:
            await form.close()
        from_text = True
    elif ctype == "application/json":
        try:
            doc = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InvalidInput("the request body is not valid JSON") from None
        except RecursionError:
            raise InvalidInput(f"the JSON body is nested too deeply (at most {MAX_JSON_DEPTH} levels)") from None
        if _depth(doc) > MAX_JSON_DEPTH:
            raise InvalidInput(f"the JSON body is nested more than {MAX_JSON_DEPTH} levels deep")
        if not isinstance(doc, dict):
            raise InvalidInput("the JSON body must be an object")
        for key in spec.images:
            if key not in doc:
                continue
            v = doc[key]
            if key in spec.many and isinstance(v, list):
                if len(v) > max_images:
                    raise InvalidInput(f"at most {max_images} images per request")
                out.images[key] = [_b64(x, f"{key}[{i}]") for i, x in enumerate(v)]
            else:
                out.images[key] = [_b64(v, key)]
        raw = {k: v for k, v in doc.items() if k not in spec.images}
        from_text = False
    else:
        raise InvalidInput("send multipart/form-data (image files) or application/json (base64 images)")
    for key in spec.images:
        got = out.images.get(key, [])
        if not got:
            raise InvalidInput(f"missing image field {key!r}")
        if key not in spec.many and len(got) > 1:
            raise InvalidInput(f"field {key!r} takes one image")
        if len(got) > max_images:
            raise InvalidInput(f"at most {max_images} images per request")
    for p in spec.params:
        if raw.get(p.name) is None:
            if p.required:
                raise InvalidInput(f"missing field {p.name!r}")
            out.params[p.name] = p.default
        else:
            out.params[p.name] = _convert(p, raw[p.name], from_text)
    return out
