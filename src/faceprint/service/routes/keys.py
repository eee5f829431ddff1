"""API key administration (scope ``admin``): create, list, revoke."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Request

from faceprint.service.auth import Principal, require
from faceprint.service.routes._common import AUTH_ERRORS
from faceprint.service.schemas import ErrorResponse, KeyCreate, KeyCreated, KeyList, KeyOut

router = APIRouter(prefix="/v1/keys", tags=["admin"])
ERRORS = AUTH_ERRORS | {400: {"model": ErrorResponse, "description": "no such key"}}


@router.post(
    "", response_model=KeyCreated, status_code=201, responses=ERRORS, summary="Create an API key (the secret is shown once)"
)
async def create_key(request: Request, body: KeyCreate, _: Principal = Depends(require("admin"))) -> Any:
    ctx = request.app.state.ctx
    new = await ctx.run_io(ctx.keys.create, body.scope, body.label)
    return new.to_dict()


@router.get("", response_model=KeyList, responses=ERRORS, summary="Every API key (never the secrets)")
async def list_keys(request: Request, _: Principal = Depends(require("admin"))) -> Any:
    ctx = request.app.state.ctx
    return {"keys": [k.to_dict() for k in await ctx.run_io(ctx.keys.list)]}


@router.delete("/{key_id}", response_model=KeyOut, responses=ERRORS, summary="Revoke an API key")
async def revoke_key(
    request: Request, key_id: str = Path(..., min_length=1, max_length=64), _: Principal = Depends(require("admin"))
) -> Any:
    ctx = request.app.state.ctx
    return (await ctx.run_io(ctx.keys.revoke, key_id)).to_dict()
