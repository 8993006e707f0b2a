"""Text messages (docs/api.md, Text messages): a wish answered by SMS when a bed opens, and
an answer to "BEDS <postal code or place> [men|women|youth|family]" for people without a
data plan. No provider's SDK: the server POSTs a documented JSON body to an adapter's URL
and answers the provider's inbound webhook with the same shape."""

from dataclasses import dataclass

from server.imports.files import load_centroids
from server.settings import Settings
from server.sms.numbers import Numbers
from server.sms.wishes import Wishes


@dataclass
class Sms:
    """What an API process keeps for texts (app.state.sms)."""

    numbers: Numbers
    wishes: Wishes | None  # None: no webhook to send texts to
    areas: dict[str, tuple[float, float]]  # postal area -> centre (SIGNAL_SMS_AREAS_FILE)


def start(settings: Settings) -> Sms:
    """The SMS state for `settings`; ValueError naming the line of an areas file that is
    not of its shape."""
    numbers = Numbers()
    wishes = Wishes(settings, numbers) if settings.sms_webhook_url else None
    return Sms(numbers, wishes, load_centroids(settings.sms_areas_file))
