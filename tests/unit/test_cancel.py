import threading

import pytest

from faceprint.cancel import Cancelled, CancelToken, checkpoint, commit_point, running_under


def test_no_token_means_no_effect() -> None:
    checkpoint()
    commit_point()


def test_cancelled_work_stops_at_its_next_checkpoint() -> None:
    t = CancelToken()
    with running_under(t):
        checkpoint()
        assert t.cancel() and t.cancelled
        with pytest.raises(Cancelled):
            checkpoint()
        with pytest.raises(Cancelled):
            commit_point()
    checkpoint()  # the token was for that block only


def test_cancelling_after_the_commit_point_fails() -> None:
    t = CancelToken()
    with running_under(t):
        commit_point()
    assert not t.cancel() and not t.cancelled


def test_tokens_are_per_thread() -> None:
    t = CancelToken()
    t.cancel()
    seen: list[str] = []

    def other() -> None:
        checkpoint()  # another thread's token does not apply here
        seen.append("ran")

    with running_under(t):
        th = threading.Thread(target=other)
        th.start()
        th.join()
    assert seen == ["ran"]
