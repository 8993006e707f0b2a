"""Phone numbers only as salted hashes, and a limit of answers per sender
(server/sms/numbers.py)."""

from server.sms import numbers
from server.sms.numbers import HOUR_S, REPLIES_PER_HOUR, Numbers


def test_a_number_is_hashed_with_a_salt_of_the_process():
    one, other = Numbers(), Numbers()
    assert one.hashed("+1 416 555 0199") == one.hashed("+14165550199")  # as written or not
    assert one.hashed("+14165550199") != other.hashed("+14165550199")  # salted per start
    assert "4165550199" not in one.hashed("+14165550199")


def test_a_sender_is_answered_so_often_an_hour_then_forgotten(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(numbers.time, "monotonic", lambda: clock[0])
    kept = Numbers()
    assert all(kept.may_answer("+14165550199") for _ in range(REPLIES_PER_HOUR))
    assert not kept.may_answer("+14165550199")
    assert kept.may_answer("+14165550100")  # another sender
    clock[0] += HOUR_S
    assert kept.may_answer("+14165550199")  # an hour on: answered again
    clock[0] += HOUR_S
    kept.may_answer("+14165550100")
    assert len(kept._replies) == 1  # the other sender, silent for an hour, is forgotten
