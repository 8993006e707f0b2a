"""Text messages (docs/api.md, Text messages): wishes answered by SMS, made with an outreach
key, and the provider's inbound webhook, which answers "BEDS <place> [who]" with the three
nearest free places. Both say plainly when SMS is not configured (503); the rest of the API
runs without it.

The inbound webhook is called by the provider, not with an API key: it checks its own token,
SIGNAL_SMS_INBOUND_TOKEN, sent as `Authorization: Bearer <token>` or as the password of
Basic authentication (what providers that cannot set a header put in the URL).
"""

import base64
import binascii
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from server.api.deps import CHALLENGE, OutreachDep, SessionDep, SettingsDep
from server.api.schemas import Error, SmsInbound, SmsMessage, SmsWishCreate, SmsWishPublic
from server.queries import Filters
from server.sms import Sms, inbound
from server.sms.numbers import REPLIES_PER_HOUR
from server.sms.places import locate
from server.sms.wishes import TooMany, Wishes

router = APIRouter(prefix="/sms", tags=["text messages"])
# The webhook authenticates the provider itself: outside get_role (main.py), whose API key
# check would refuse the provider's token
webhook = APIRouter(prefix="/sms", tags=["text messages"])
UNCONFIGURED = {503: {"model": Error, "description": "SMS is not configured on this server"}}


def _sms(request: Request) -> Sms:
    """The SMS state of the app (server/api/main.py): numbers, wishes, postal areas."""
    return request.app.state.sms


def _wishes(request: Request) -> Wishes:
    wishes = _sms(request).wishes
    if wishes is None:
        raise HTTPException(503, "SMS is not configured: SIGNAL_SMS_WEBHOOK_URL is unset")
    return wishes


@router.post(
    "/wishes",
    response_model=SmsWishPublic,
    status_code=status.HTTP_201_CREATED,
    responses={**UNCONFIGURED, 403: {"model": Error, "description": "Role below outreach"}},
)
def make_wish(
    body: SmsWishCreate,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    _role: OutreachDep,
) -> SmsWishPublic:
    """Text `phone` once when a program that fits goes from no free place (by a fresh or
    aging count) to at least one. A new wish for the same number replaces the old one. The
    number is kept in this server process's memory until the text is sent or the wish ends
    (SIGNAL_SMS_WISH_MINUTES at most), never stored: a restart forgets the wish."""
    wishes = _wishes(request)
    longest = settings.sms_wish_minutes
    if body.minutes is not None and body.minutes > longest:
        raise HTTPException(422, f"minutes: a wish waits at most {longest} minutes here")
    near = (body.lat, body.lon) if body.lat is not None else None
    if body.place is not None:
        near = locate(session, body.place, _sms(request).areas)
        if near is None:
            raise HTTPException(422, f"place: no place found for {body.place!r}")
    filters = Filters(
        sectors=frozenset(body.sectors),
        has_space=True,
        accepting=True,
        pets_allowed=body.pets_allowed,
        wheelchair_accessible=body.wheelchair_accessible,
        couples_allowed=body.couples_allowed,
        gender=body.gender,
        age=body.age,
        near=near,
        radius_km=body.radius_km if near else None,
    )
    key_id = request.state.key_id
    try:
        wish = wishes.add(
            session, key_id, body.phone, body.language, filters, body.minutes or longest
        )
    except TooMany as e:
        raise HTTPException(503, f"{e}: try again later") from None
    lat, lon = near or (None, None)
    return SmsWishPublic(
        id=wish.id, expires_at=wish.expires_at, lat=lat, lon=lon, radius_km=filters.radius_km
    )


@router.delete(
    "/wishes/{wish_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**UNCONFIGURED, 404: {"model": Error, "description": "No such wish of this key"}},
)
def end_wish(wish_id: str, request: Request, _role: OutreachDep) -> Response:
    """Forget a wish (and its number) before it is answered."""
    if not _wishes(request).end(wish_id, request.state.key_id):
        raise HTTPException(404, f"no waiting wish {wish_id} made with this key")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# A scheme of its own (as the web dial's): the rest of the API reads API keys from the header
_bearer = HTTPBearer(
    scheme_name="SmsInboundToken",
    auto_error=False,
    description="SIGNAL_SMS_INBOUND_TOKEN: `Authorization: Bearer <token>`, or the password "
    "of Basic authentication",
)


def _provider(
    request: Request,
    settings: SettingsDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Let only the provider in: 503 without a token set, 401 without the right one."""
    token = settings.sms_inbound_token
    if token is None:
        raise HTTPException(503, "SMS is not configured: SIGNAL_SMS_INBOUND_TOKEN is unset")
    sent = bearer.credentials.encode() if bearer else _basic(request)
    if sent is None or not secrets.compare_digest(sent, token.get_secret_value().encode()):
        limiter, client = request.app.state.limiter, request.client.host if request.client else "-"
        if seconds := limiter.spend(client):  # guessing the token costs like public requests
            raise HTTPException(429, f"too many requests: try again in {seconds} s")
        raise HTTPException(
            401,
            "the SMS webhook needs SIGNAL_SMS_INBOUND_TOKEN as `Authorization: Bearer "
            "<token>` or as the password of Basic authentication",
            headers=CHALLENGE,
        )


def _basic(request: Request) -> bytes | None:
    """The password of Basic authentication, whatever the user name; None without one."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        return base64.b64decode(value.strip(), validate=True).partition(b":")[2]
    except (binascii.Error, ValueError):
        return None


@webhook.post(
    "/inbound",
    response_model=SmsMessage,
    responses={
        **UNCONFIGURED,
        204: {"description": "STOP (or another opt-out word): nothing to send back"},
        401: {"model": Error, "description": "The provider's token is missing or wrong"},
        429: {
            "model": Error,
            "description": f"Answered this sender {REPLIES_PER_HOUR} times in the last hour",
        },
    },
)
def inbound_text(
    body: SmsInbound,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    _provider: Annotated[None, Depends(_provider)],
) -> SmsMessage | Response:
    """A text someone sent: the answer to send back to them, in the body (the adapter sends
    it on, as it sends a wish's text). Anything but "BEDS <place> [who]" gets a short help;
    STOP ends a wish waiting for the sender and gets no answer."""
    sms = _sms(request)
    if inbound.stops(body.text):
        if sms.wishes is not None:
            sms.wishes.forget(body.from_)
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    if not sms.numbers.may_answer(body.from_):
        raise HTTPException(429, "this sender had its answers for the hour: nothing is sent")
    language, reply = inbound.answer(session, settings, body.text, sms.areas)
    return SmsMessage(kind="reply", to=body.from_, text=reply, language=language)
