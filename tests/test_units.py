"""Unit tests without sockets: signing, ids, durations, settings, lifecycles, clock, pagination."""

from __future__ import annotations

import asyncio
import gc
import random
import time
import uuid
from datetime import UTC, datetime

import pytest

from mockknock import signing
from mockknock.clock import ScaledClock, VirtualClock
from mockknock.config import Endpoint, RetryPolicy, Settings
from mockknock.duration import DurationError, format_duration, parse_duration
from mockknock.errors import ConfigError, KnockApiError
from mockknock.gc_tuning import YOUNG_GENERATION_THRESHOLD, serving_thresholds
from mockknock.ids import KSUID_EPOCH, ksuid, ksuid_seconds, uuid4
from mockknock.lifecycle import LifecycleError, check_sequence, parse_step
from mockknock.message_query import list_messages
from mockknock.model import ChannelType, EngagementStatus, EventType, Message, MessageSource, format_timestamp
from mockknock.randomness import Randomness
from mockknock.scenario import make_channel


class TestSigning:
    """mockknock.signing against Knock's documented scheme."""

    BODY = (
        b'{"__typename":"Event","type":"message.read","created_at":"2026-01-01T00:00:00.000000Z",'
        b'"data":{"__typename":"Message","id":"2w3YUpTTOxuDvZFji8OMsKrG176"},"event_data":null}'
    )

    def test_reference_vector(self) -> None:
        """The test vector in knock-reference.md section 1.3."""
        header = signing.sign(self.BODY, "test_webhook_secret", 1767225600000)
        assert header == "t=1767225600000,s=Vef4a2qGe+GONi8SgJuDy3BNM7op+aUAX26VCrPCvhs="

    def test_verify_accepts_fresh_signature(self) -> None:
        """A signature made now verifies and returns its timestamp."""
        header = signing.sign(self.BODY, "s")
        assert signing.verify(self.BODY, header, "s") == signing.parse(header)[0]

    def test_verify_rejects_tampering(self) -> None:
        """Wrong secret, altered body, stale timestamp and bad shapes all raise."""
        header = signing.sign(self.BODY, "s", 1767225600000)
        now = 1767225600000
        with pytest.raises(signing.SignatureError, match="does not match"):
            signing.verify(self.BODY, header, "other", now_ms=now)
        with pytest.raises(signing.SignatureError, match="does not match"):
            signing.verify(self.BODY + b" ", header, "s", now_ms=now)
        with pytest.raises(signing.SignatureError, match="tolerance"):
            signing.verify(self.BODY, header, "s", now_ms=now + 301_000)
        assert signing.verify(self.BODY, header, "s", tolerance_ms=None) == now
        for bad in ("", "t=1", "s=abc", "t=x,s=abc", "t=1,s=2,t=3"):
            with pytest.raises(signing.SignatureError):
                signing.verify(self.BODY, bad, "s", tolerance_ms=None)


class TestIds:
    """KSUIDs and UUIDs drawn from a seeded stream."""

    def test_ksuid_embeds_its_second(self) -> None:
        """The 2022 doc sample decodes to its inserted_at second, and ours round-trip."""
        sample = datetime(2022, 5, 31, 17, 12, 59, tzinfo=UTC).timestamp()
        assert ksuid_seconds("29wHMT3jeGfPE02PHezR8go0cK1") == sample
        us = 1_767_225_600_123_456
        ident = ksuid(us, random.Random(1))
        assert len(ident) == 27 and ident.isalnum()
        assert ksuid_seconds(ident) == us // 1_000_000

    def test_fast_encodings_match_the_plain_ones(self) -> None:
        """The table-driven KSUID and the hand-built UUID equal base62 digit by digit and uuid.UUID(version=4),
        including the extremes of time and randomness."""

        def plain_ksuid(epoch_us: int, bits: int) -> str:
            value = ((epoch_us // 1_000_000 - KSUID_EPOCH) << 128) | bits
            digits = ""
            while value:
                value, digit = divmod(value, 62)
                digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"[digit] + digits
            return digits.rjust(27, "0")

        picks = random.Random(3)
        earliest, latest = KSUID_EPOCH * 1_000_000, (KSUID_EPOCH + 2**32 - 1) * 1_000_000
        cases = [(earliest, 0), (latest, 2**128 - 1), (earliest, 2**128 - 1), (latest, 0)]
        cases += [(picks.randrange(earliest, latest), picks.getrandbits(128)) for _ in range(2000)]
        class Fixed(random.Random):
            bits = 0

            def getrandbits(self, k: int, /) -> int:
                return self.bits

        fixed = Fixed()
        for us, bits in cases:
            fixed.bits = bits
            assert ksuid(us, fixed) == plain_ksuid(us, bits)
            assert uuid4(fixed) == str(uuid.UUID(int=bits, version=4))

    def test_same_seed_same_ids(self) -> None:
        """Ids depend only on the seed and the order they are drawn in."""
        a, b = Randomness(5).stream("ids"), Randomness(5).stream("ids")
        assert [uuid4(a) for _ in range(3)] == [uuid4(b) for _ in range(3)]
        assert uuid4(Randomness(6).stream("ids")) != uuid4(Randomness(5).stream("ids"))

    def test_streams_are_independent(self) -> None:
        """Drawing from one purpose does not shift another."""
        r1, r2 = Randomness(5), Randomness(5)
        r1.stream("delivery-jitter").random()
        assert r1.stream("ids").random() == r2.stream("ids").random()


class TestDurations:
    """Human durations."""

    @pytest.mark.parametrize(
        ("text", "us"),
        [("500ms", 500_000), ("2s", 2_000_000), ("1m30s", 90_000_000), ("1h", 3_600_000_000), ("1.5s", 1_500_000),
         ("3", 3_000_000), (2, 2_000_000), ("1d", 86_400_000_000)],
    )
    def test_parse(self, text: str | int, us: int) -> None:
        """Units combine and bare numbers are seconds."""
        assert parse_duration(text) == us

    @pytest.mark.parametrize("text", ["-1s", "1x", "s", "", "1m30", True, -3])
    def test_reject(self, text: str | int) -> None:
        """Negative and malformed durations raise with an example of the right form."""
        with pytest.raises(DurationError):
            parse_duration(text)

    def test_format(self) -> None:
        """Formatting is the inverse for whole units."""
        assert format_duration(90_000_000) == "1m30s"
        assert parse_duration(format_duration(3_723_000_000)) == 3_723_000_000


class TestSettings:
    """Defaults < MOCKKNOCK_* < flags."""

    def test_precedence(self) -> None:
        """A flag beats a variable beats the default."""
        env = {"MOCKKNOCK_PORT": "4000", "MOCKKNOCK_SEED": "3", "MOCKKNOCK_HOST": ""}
        settings = Settings.resolve(env, {"port": 5000, "host": None})
        assert settings.port == 5000 and settings.seed == 3 and settings.host == "127.0.0.1"

    def test_webhook_urls_and_retry_from_env(self) -> None:
        """Several URLs split on whitespace; retry fields build a RetryPolicy."""
        env = {"MOCKKNOCK_WEBHOOK_URL": "http://a/h http://b/h|message.*", "MOCKKNOCK_MAX_ATTEMPTS": "3",
               "MOCKKNOCK_RETRY_BASE": "2s"}
        settings = Settings.resolve(env, {})
        policy = settings.retry_policy(None)
        assert [e.url for e in settings.webhook_urls] == ["http://a/h", "http://b/h"]
        assert settings.webhook_urls[1].events == ("message.*",)
        assert policy.max_attempts == 3 and policy.base_us == 2_000_000

    def test_retry_flags_override_the_scenario_field_by_field(self) -> None:
        """--max-attempts changes only the attempts of the scenario's policy; its base and cap stay."""
        settings = Settings.resolve({}, {"max_attempts": 3})
        scenario_policy = RetryPolicy(base_us=1_000_000, cap_us=5_000_000)
        policy = settings.retry_policy(scenario_policy)
        assert (policy.max_attempts, policy.base_us, policy.cap_us) == (3, 1_000_000, 5_000_000)
        assert Settings.resolve({}, {}).retry_policy(scenario_policy) == scenario_policy

    @pytest.mark.parametrize(
        "flags", [{"delivery_log_size": 0}, {"max_body_bytes": -1}, {"jitter": 2.0}, {"timeout_s": "0s"}]
    )
    def test_out_of_range_values_are_config_errors(self, flags: dict[str, object]) -> None:
        """Sizes, jitter and timeout outside their range are refused with a ConfigError, not a traceback."""
        with pytest.raises(ConfigError):
            Settings.resolve({}, flags)

    @pytest.mark.parametrize(
        ("env", "flags", "fragment"),
        [
            ({"MOCKKNOCK_PORT": "http"}, {}, "MOCKKNOCK_PORT"),
            ({}, {"speed": 0.0}, "speed must be above 0"),
            ({}, {"webhook_urls": ["ftp://x"]}, "absolute http(s) URL"),
            ({}, {"webhook_urls": ["http://x/h|message.sentt"]}, "matches no Knock event type"),
            ({}, {"scenario": "/nope.yaml"}, "does not exist"),
            ({}, {"base_us": "soon"}, "--retry-base"),
            ({"MOCKKNOCK_RETRY_JITTER": "lots"}, {}, "MOCKKNOCK_RETRY_JITTER"),
        ],
    )
    def test_bad_values_say_where(self, env: dict[str, str], flags: dict[str, object], fragment: str) -> None:
        """Errors name the variable or flag and what is wrong."""
        with pytest.raises(ConfigError, match=None) as info:
            Settings.resolve(env, flags)
        assert fragment in str(info.value)

    def test_endpoint_filters(self) -> None:
        """Filters are globs over Knock's event names."""
        endpoint = Endpoint.parse("http://x/h|message.bounced,workflow_recipient_run.*")
        assert endpoint.wants(EventType.MESSAGE_BOUNCED)
        assert endpoint.wants(EventType.WORKFLOW_RECIPIENT_RUN_STARTED)
        assert not endpoint.wants(EventType.MESSAGE_SENT)

    def test_retry_schedule(self) -> None:
        """Default backoff doubles from 10s, capped at 15m, within +/-20%."""
        policy = RetryPolicy()
        assert policy.delay_before(2, 0.5) == 10_000_000
        assert policy.delay_before(3, 0.5) == 20_000_000
        assert policy.delay_before(8, 0.5) == 640_000_000
        assert policy.delay_before(2, 0.0) == 8_000_000
        assert RetryPolicy(cap_us=30_000_000).delay_before(8, 0.5) == 30_000_000
        # jitter never takes a wait past the cap
        assert RetryPolicy(base_us=600_000_000).delay_before(3, 0.999) == RetryPolicy().cap_us
        assert RetryPolicy(cap_us=30_000_000).delay_before(8, 0.0) == 24_000_000
        total = sum(policy.delay_before(n, 0.5) for n in range(2, 9))
        assert 20 * 60e6 < total < 22 * 60e6


class TestLifecycles:
    """The lifecycle language and Knock's transition rules."""

    def test_parse_forms(self) -> None:
        """Delay, jitter, argument and repeat."""
        step = parse_step("+1m~30s seen")
        assert (step.action.value, step.delay_us, step.jitter_us) == ("seen", 60_000_000, 30_000_000)
        assert parse_step("bounced(hard_bounce)").argument == "hard_bounce"
        assert parse_step("delivery_attempted x3").repeat == 3
        assert parse_step("+30s link_clicked(https://x.io/a)").argument == "https://x.io/a"

    @pytest.mark.parametrize(
        "text", ["delivred", "+2x sent", "sent x2", "undelivered(nope)", "seen(arg)", "link_clicked(not-a-url)"]
    )
    def test_bad_steps(self, text: str) -> None:
        """Unknown names, bad delays, bad repeats and bad arguments are refused."""
        with pytest.raises(LifecycleError):
            parse_step(text)

    @pytest.mark.parametrize(
        ("steps", "channel", "fragment"),
        [
            (["sent", "delivered", "sent"], ChannelType.EMAIL, "cannot go back"),
            (["sent", "delivered"], ChannelType.PUSH, "never pass sent"),
            (["sent", "delivered"], ChannelType.CHAT, "never pass sent"),
            (["bounced"], ChannelType.EMAIL, "only after it was sent"),
            (["seen"], ChannelType.IN_APP_FEED, "sent first"),
            (["sent", "bounced(hard)", "delivered"], ChannelType.EMAIL, "nothing can follow"),
            (["sent", "delivered", "bounced"], ChannelType.EMAIL, "cannot become bounced"),
            (["sent", "not_sent"], ChannelType.EMAIL, "must be the first"),
        ],
    )
    def test_impossible_sequences(self, steps: list[str], channel: ChannelType, fragment: str) -> None:
        """Each impossible sequence names the step and the reason."""
        with pytest.raises(LifecycleError, match=fragment):
            check_sequence(tuple(parse_step(s) for s in steps), channel)

    @pytest.mark.parametrize(
        "steps",
        [
            ["sent", "+2s delivered", "+1m seen", "+10s read", "+30s link_clicked(https://x.io)"],
            ["delivery_attempted x3", "undelivered(retries_exhausted)"],
            ["delivery_attempted x2", "sent", "delivered"],
            ["sent", "+3s bounced(hard_bounce)"],
            ["not_sent"],
            ["sent", "seen", "unseen", "seen", "archived", "unarchived"],
        ],
    )
    def test_possible_sequences(self, steps: list[str]) -> None:
        """Sequences Knock produces pass."""
        check_sequence(tuple(parse_step(s) for s in steps), ChannelType.EMAIL)


class TestClock:
    """Scaled and virtual time."""

    async def test_scaled_clock_runs_fast(self) -> None:
        """At speed 1000, 50ms of real time is ~50 simulated seconds."""
        clock = ScaledClock(1000, start_us=0)
        await asyncio.sleep(0.05)
        assert 40_000_000 < clock.now_us() < 500_000_000
        started = asyncio.get_running_loop().time()
        await clock.sleep(60_000_000)  # a simulated minute
        assert asyncio.get_running_loop().time() - started < 1.0

    async def test_virtual_clock_jumps_when_idle(self) -> None:
        """A virtual hour passes at once when nothing is busy, and not while something is."""
        clock = VirtualClock(start_us=0)
        await clock.sleep(3_600_000_000)
        assert clock.now_us() == 3_600_000_000
        with clock.busy():
            waiter = asyncio.ensure_future(clock.sleep(1_000_000))
            await asyncio.sleep(0.01)
            assert not waiter.done()
        await waiter
        assert clock.now_us() == 3_601_000_000
        await clock.close()

    async def test_virtual_advance(self) -> None:
        """advance() moves time and wakes what is due, in order."""
        clock = VirtualClock(start_us=0, auto_advance=False)
        order: list[int] = []

        async def sleeper(us: int) -> None:
            await clock.sleep(us)
            order.append(us)

        tasks = [asyncio.ensure_future(sleeper(us)) for us in (3_000, 1_000, 2_000)]
        await asyncio.sleep(0)
        clock.advance(2_500)
        await asyncio.sleep(0.01)
        assert order == [1_000, 2_000]
        clock.advance(1_000)
        await asyncio.gather(*tasks)
        assert order == [1_000, 2_000, 3_000]
        with pytest.raises(ValueError):
            clock.advance(-1)
        await clock.close()

    async def test_eager_clock_jumps_without_the_runner(self) -> None:
        """Eager (replay): the earliest waiter jumps at once, mostly without an event-loop turn."""
        clock = VirtualClock(start_us=0)
        clock.eager = True
        turns = 0

        def count_turn() -> None:
            nonlocal turns
            turns += 1
            handle[0] = loop.call_soon(count_turn)

        loop = asyncio.get_running_loop()
        handle = [loop.call_soon(count_turn)]
        for step in range(1, 1001):
            await clock.sleep(1_000)
            assert clock.now_us() == step * 1_000
        handle[0].cancel()
        assert turns < 500, f"{turns} event-loop turns for 1,000 jumps"
        await clock.close()

    async def test_eager_clock_still_yields_to_other_tasks(self) -> None:
        """A long run of eager jumps lets other ready tasks in every few milliseconds."""
        clock = VirtualClock(start_us=0)
        clock.eager = True
        ran = asyncio.Event()
        other = asyncio.get_running_loop().call_soon(ran.set)
        deadline = time.perf_counter() + 5
        while not ran.is_set() and time.perf_counter() < deadline:
            await clock.sleep(1)
        assert ran.is_set(), "the eager clock never yielded"
        other.cancel()
        await clock.close()

    async def test_eager_clock_does_not_pass_an_earlier_waiter(self) -> None:
        """Another task due sooner is woken first: the eager jump only takes the earliest wake-up."""
        clock = VirtualClock(start_us=0)
        clock.eager = True
        order: list[str] = []

        async def sleeper(name: str, us: int) -> None:
            await clock.sleep(us)
            order.append(f"{name}@{clock.now_us()}")

        early = asyncio.ensure_future(sleeper("early", 1_000))
        await asyncio.sleep(0)  # registered with the clock
        await sleeper("late", 5_000)
        await early
        assert order == ["early@1000", "late@5000"]
        await clock.close()

    async def test_hold_keeps_an_eager_clock_still(self) -> None:
        """hold() stops time like work in flight; release() lets it jump again."""
        clock = VirtualClock(start_us=0)
        clock.eager = True
        clock.hold()
        waiter = asyncio.ensure_future(clock.sleep(1_000))
        await asyncio.sleep(0.01)
        assert not waiter.done() and clock.now_us() == 0
        clock.release()
        await asyncio.wait_for(waiter, 5)
        assert clock.now_us() == 1_000
        await clock.close()


def _messages(count: int) -> list[Message]:
    channel = make_channel("email", ChannelType.EMAIL, "sendgrid")
    rng = random.Random(1)
    out = []
    for i in range(count):
        us = 1_767_225_600_000_000 + i * 1_000_000
        source = MessageSource("wf" if i % 2 else "other", "v", ("cat",) if i % 3 == 0 else (), "email_1", f"run{i}")
        out.append(Message(ksuid(us, rng), channel, f"u{i}", (), source, f"rr{i}", None, {"i": i}, None, us, us))
    return out


class TestMessageQuery:
    """GET /v1/messages filters and cursor pagination."""

    def test_pages_walk_newest_first_without_gaps(self) -> None:
        """Following page_info.after visits every message once, newest first, then stops."""
        messages = _messages(23)
        seen: list[str] = []
        params: dict[str, list[str]] = {"page_size": ["10"]}
        while True:
            page = list_messages(messages, params)
            seen.extend(m.id for m in page.items)
            if page.after is None:
                break
            params = {"page_size": ["10"], "after": [page.after]}
        assert seen == [m.id for m in reversed(messages)]

    def test_before_goes_back(self) -> None:
        """page_info.before of the second page returns the first page."""
        messages = _messages(23)
        first = list_messages(messages, {"page_size": ["10"]})
        assert first.after is not None
        second = list_messages(messages, {"page_size": ["10"], "after": [first.after]})
        assert second.before is not None
        back = list_messages(messages, {"page_size": ["10"], "before": [second.before]})
        assert [m.id for m in back.items] == [m.id for m in first.items]

    def test_filters(self) -> None:
        """Bracketed arrays, workflow source, categories, trigger data and time bounds."""
        messages = _messages(12)
        assert len(list_messages(messages, {"source": ["wf"]}).items) == 6
        assert len(list_messages(messages, {"status[]": ["queued", "sent"]}).items) == 12
        assert len(list_messages(messages, {"status[]": ["sent"]}).items) == 0
        assert len(list_messages(messages, {"workflow_categories[]": ["cat"]}).items) == 4
        assert [m.data for m in list_messages(messages, {"trigger_data": ['{"i": 3}']}).items] == [{"i": 3}]
        bound = format_timestamp(messages[5].inserted_at_us)
        assert len(list_messages(messages, {"inserted_at.gte": [bound]}).items) == 7
        assert len(list_messages(messages, {"message_ids[]": [messages[0].id]}).items) == 1

    def test_a_cursor_stays_good_when_its_message_stops_matching(self) -> None:
        """Walking the unread messages and marking each page read as it comes, as an inbox does: every
        message is visited once, though each page's last message is read by the time its cursor is used."""
        messages = _messages(23)
        seen: list[str] = []
        params: dict[str, list[str]] = {"page_size": ["5"], "engagement_status": ["unread"]}
        while True:
            page = list_messages(messages, params)
            seen.extend(m.id for m in page.items)
            for message in page.items:
                message.engagement[EngagementStatus.READ] = 1
            if page.after is None:
                break
            params = {**params, "after": [page.after]}
        assert seen == [m.id for m in reversed(messages)]

    def test_before_from_a_cursor_that_no_longer_matches(self) -> None:
        messages = _messages(12)
        unread = {"page_size": ["4"], "engagement_status": ["unread"]}
        second = list_messages(messages, {**unread, "after": [list_messages(messages, unread).after or ""]})
        assert second.before is not None
        second.items[0].engagement[EngagementStatus.READ] = 1
        back = list_messages(messages, {**unread, "before": [second.before]})
        assert [m.id for m in back.items] == [m.id for m in reversed(messages[-4:])]

    @pytest.mark.parametrize(
        ("params", "field"),
        [({"page_size": ["0"]}, "page_size"), ({"page_size": ["51"]}, "page_size"),
         ({"page_size": ["\u00b2"]}, "page_size"),  # a digit to str.isdigit(), not to int()
         ({"after": ["garbage!"]}, "after"), ({"before": ["garbage!"]}, "before"),
         ({"trigger_data": ["[1]"]}, "trigger_data"), ({"trigger_data": ['{"x": NaN}']}, "trigger_data"),
         ({"trigger_data": ["[" * 5000 + "]" * 5000]}, "trigger_data"),
         ({"inserted_at.gt": ["yesterday"]}, "inserted_at.gt"),
         ({"status[]": ["sent", "posted"]}, "status"),
         ({"message_ids[]": [f"m{i}" for i in range(51)]}, "message_ids"),
         ({"workflow_run_id": ["run-1"]}, "workflow_run_id")],
    )
    def test_bad_params_are_422(self, params: dict[str, list[str]], field: str) -> None:
        """Out-of-range sizes, foreign cursors and malformed filters are 422 invalid_params naming the
        parameter; values outside the OpenAPI's enum, count and format included."""
        with pytest.raises(KnockApiError) as info:
            list_messages(_messages(3), params)
        assert info.value.status == 422 and [e.field for e in info.value.errors] == [field]

    def test_a_cursor_to_a_message_gone_names_its_parameter(self) -> None:
        cursor = list_messages(_messages(12), {"page_size": ["4"]}).after
        assert cursor is not None
        with pytest.raises(KnockApiError) as info:
            list_messages(_messages(3), {"before": [cursor]})
        assert [e.field for e in info.value.errors] == ["before"]
        assert "start again without a cursor" in info.value.errors[0].message


class TestGcTuning:
    def test_young_threshold_raised_inside_and_restored_after(self) -> None:
        """serve and replay collect the young generation less often; the process's own setting comes back."""
        before = gc.get_threshold()
        gc.set_threshold(900, 7, 9)
        try:
            with serving_thresholds():
                assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, 7, 9)
            assert gc.get_threshold() == (900, 7, 9)
        finally:
            gc.set_threshold(*before)

    def test_restored_when_the_block_fails(self) -> None:
        before = gc.get_threshold()
        with pytest.raises(RuntimeError), serving_thresholds():
            raise RuntimeError("the server stopped on an error")
        assert gc.get_threshold() == before
