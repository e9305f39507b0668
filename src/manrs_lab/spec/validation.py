"""Turn pydantic's validation errors into 'field.path: message' lines."""

from __future__ import annotations

from pydantic import ValidationError


def format_validation_error(exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling)"
        lines.append(f"{loc}: {msg}")
    return lines
