"""`/v1/session`: an officer signs in (a cookie session), reads its CSRF token, signs out; `/v1/officers`
lists officers for an admin. Accounts are made with `xscreen officers create` (`serving.officers`)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from xscreen.serving.api.deps import AdminDep, OfficerSessionDep, ServiceDep, SessionDep
from xscreen.serving.api.schemas import LoginIn, OfficerOut, SessionOut
from xscreen.serving.officers import SESSION_COOKIE, end_session, list_officers, open_session, verify_password
from xscreen.serving.store.records import OfficerSessionRecord

router = APIRouter(tags=["officers"])


def _session_out(record: OfficerSessionRecord) -> SessionOut:
    return SessionOut(officer=record.officer.name, role=record.officer.role, csrf_token=record.csrf_token, expires_at=record.expires_at)


@router.post("/session", response_model=SessionOut, summary="Sign an officer in: sets the session cookie",
             responses={401: {"description": "Unknown name, wrong password or disabled officer (one answer for all)"}})
def sign_in(login: LoginIn, response: Response, service: ServiceDep, session: SessionDep) -> SessionOut:
    officer = verify_password(session=session, name=login.name, password=login.password)
    hours = service.settings.officer_session_hours
    token, record = open_session(session=session, officer=officer, hours=hours)
    response.set_cookie(
        SESSION_COOKIE, token, max_age=int(hours * 3600), httponly=True, samesite="strict", secure=service.settings.session_cookie_secure, path="/",
    )
    return _session_out(record)


@router.get("/session", response_model=SessionOut, summary="The signed-in officer and the session's CSRF token")
def current_session(record: OfficerSessionDep) -> SessionOut:
    return _session_out(record)


@router.delete("/session", status_code=204, summary="Sign out: ends the session")
def sign_out(record: OfficerSessionDep, session: SessionDep) -> Response:
    end_session(session=session, record=session.merge(record))
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/officers", response_model=list[OfficerOut], summary="Every officer (admins only)")
def officers(admin: AdminDep, session: SessionDep) -> list[OfficerOut]:
    return [OfficerOut(name=o.name, role=o.role, created_at=o.created_at, disabled_at=o.disabled_at) for o in list_officers(session=session)]
