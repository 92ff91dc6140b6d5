"""What handlers need, each as an `Annotated` alias, so a handler's signature lists its needs.

Who may call what (roles: `serving.officers`):
- `StationDep`: a station's API key (submitting scans). An officer's session cookie alone is refused (403).
- `OfficerDep` / `AdminDep`: a signed-in officer (admins included) / an admin; a station key is refused
  (403), and a change (POST, PUT, PATCH, DELETE) needs the session's CSRF token in `X-CSRF-Token`.
- `CallerDep`: either; `caller.station` scopes what a station reads to its own scans (None for officers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, AsyncIterator, Iterator

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyCookie, APIKeyHeader
from sqlalchemy.orm import Session

from xscreen.errors import AuthError, CsrfRejected, Forbidden, ServiceUnavailable
from xscreen.serving.admission import Ticket
from xscreen.serving.api.service import Service
from xscreen.serving.auth import authenticate
from xscreen.serving.officers import CSRF_HEADER, SESSION_COOKIE, csrf_matches, session_for
from xscreen.serving.store.records import ApiKeyRecord, OfficerRecord, OfficerSessionRecord

API_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="The station's API key (`xscreen keys create`).")
SESSION_COOKIE_SCHEME = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="An officer's session (`POST /v1/session`).")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_service(request: Request) -> Service:  # async: no thread-pool hop, which a flood would queue behind decodes
    service: Service | None = getattr(request.app.state, "service", None)
    if service is None:
        raise ServiceUnavailable("the service is starting or stopping")
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


def get_session(service: ServiceDep) -> Iterator[Session]:
    with service.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
KeyHeader = Annotated[str | None, Security(API_KEY_HEADER)]
SessionCookie = Annotated[str | None, Security(SESSION_COOKIE_SCHEME)]


def get_station(service: ServiceDep, key: KeyHeader, cookie: SessionCookie) -> ApiKeyRecord:
    """The calling station's key record: 401 without or with an unknown key, 403 when revoked or when an
    officer's session comes instead (officers review scans; only stations submit them)."""
    if not key and cookie:
        raise Forbidden("an officer's session cannot submit or act as a station: stations send their X-API-Key")
    with service.sessions() as session:
        return authenticate(session=session, key=key)


StationDep = Annotated[ApiKeyRecord, Depends(get_station)]


def get_officer_session(request: Request, service: ServiceDep, key: KeyHeader, cookie: SessionCookie) -> OfficerSessionRecord:
    """The signed-in officer's live session: a station key is 403, no or a dead session 401, and a change
    without the session's CSRF token 403."""
    if key:
        raise Forbidden("a station key cannot do this: officers sign in at /review")
    with service.sessions() as session:
        record = session_for(session=session, token=cookie)
    if request.method not in SAFE_METHODS and not csrf_matches(record, request.headers.get(CSRF_HEADER)):
        raise CsrfRejected(f"missing or wrong {CSRF_HEADER} header: the page reads it from GET /v1/session")
    return record


OfficerSessionDep = Annotated[OfficerSessionRecord, Depends(get_officer_session)]


def require_officer(record: OfficerSessionDep) -> OfficerRecord:
    """The signed-in officer (role officer or admin)."""
    return record.officer


OfficerDep = Annotated[OfficerRecord, Depends(require_officer)]


def require_admin(officer: OfficerDep) -> OfficerRecord:
    if officer.role != "admin":
        raise Forbidden(f"officer {officer.name!r} is not an admin")
    return officer


AdminDep = Annotated[OfficerRecord, Depends(require_admin)]


@dataclass(frozen=True)
class Caller:
    """Who reads: a station (its own scans only) or an officer (every station's)."""

    station: str | None
    officer: OfficerRecord | None

    @property
    def scope(self) -> str | None:
        """The station a read is limited to; None for an officer."""
        return self.station


def get_caller(request: Request, service: ServiceDep, key: KeyHeader, cookie: SessionCookie) -> Caller:
    if key:
        with service.sessions() as session:
            return Caller(station=authenticate(session=session, key=key).station, officer=None)
    if cookie:
        return Caller(station=None, officer=get_officer_session(request, service, key, cookie).officer)
    raise AuthError("missing credentials: stations send their X-API-Key, officers sign in at /review")


CallerDep = Annotated[Caller, Depends(get_caller)]


async def admit_scan(request: Request, service: ServiceDep) -> AsyncIterator[Ticket]:
    """A scan upload's admission (`serving.admission`), before its key is looked up or its body read; released
    when the request has been answered. Async and first in the handler's signature, so a refusal waits for
    neither the thread pool nor the database."""
    declared = request.headers.get("content-length", "")
    ticket = service.admission.admit(declared_bytes=int(declared) if declared.isdigit() else None)
    try:
        yield ticket
    finally:
        ticket.release()


AdmittedDep = Annotated[Ticket, Depends(admit_scan)]
