"""What handlers need, each as an `Annotated` alias, so a handler's signature lists its needs."""

from __future__ import annotations

from typing import Annotated, Iterator

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy.orm import Session

from xscreen.errors import ServiceUnavailable
from xscreen.serving.api.service import Service
from xscreen.serving.auth import authenticate
from xscreen.serving.store.records import ApiKeyRecord

API_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="The station's API key (`xscreen keys create`).")


def get_service(request: Request) -> Service:
    service: Service | None = getattr(request.app.state, "service", None)
    if service is None:
        raise ServiceUnavailable("the service is starting or stopping")
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


def get_session(service: ServiceDep) -> Iterator[Session]:
    with service.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_station(service: ServiceDep, key: Annotated[str | None, Security(API_KEY_HEADER)]) -> ApiKeyRecord:
    """The calling station's key record: 401 without or with an unknown key, 403 when revoked."""
    with service.sessions() as session:
        return authenticate(session=session, key=key)


StationDep = Annotated[ApiKeyRecord, Depends(get_station)]
