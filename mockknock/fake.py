"""Seeded fake people and provider details for users the app never identified.

Each user id always gets the same name and email for a given seed, whatever order users appear in,
because the generator is re-seeded from (seed, user id) for each one.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from faker import Faker


# Faker providers a scenario script may ask for by name: an allow-list, so a scenario cannot call
# arbitrary methods and every value is plain JSON.
PROVIDERS = frozenset({
    "name", "first_name", "last_name", "email", "user_name", "phone_number", "company", "job", "city",
    "country", "sentence", "paragraph", "word", "catch_phrase", "url", "uri_path", "uuid4", "iso8601",
    "pyint", "color_name",
})


_DATE_PROVIDERS = frozenset({"iso8601"})
_DATES_END = datetime(2026, 1, 1)  # naive, as Faker's own default end is: its text carries no offset


class FakeData:
    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._faker: Faker | None = None

    def _generator(self, *key: str) -> Faker:
        if self._faker is None:
            # Imported and built on first use: importing Faker costs ~115 ms and building it ~25 ms,
            # which `serve` start-up need not pay.
            from faker import Faker  # noqa: PLC0415 - deferred on purpose, see above

            self._faker = Faker("en_US", use_weighting=False)
        digest = hashlib.sha256(":".join((str(self._seed), *key)).encode()).digest()
        self._faker.seed_instance(int.from_bytes(digest[:8], "big"))
        return self._faker

    def person(self, user_id: str) -> dict[str, Any]:
        fake = self._generator("person", user_id)
        first, last = fake.first_name(), fake.last_name()
        local = f"{first}.{last}".lower().replace("'", "")
        return {
            "name": f"{first} {last}",
            "email": f"{local}@{fake.free_email_domain()}",
            "phone_number": fake.numerify("+1##########"),
        }

    def value(self, provider: str, *key: str) -> Any:
        """One value from an allowed Faker provider (``sentence``, ``email``...), fixed by seed and key."""
        if provider not in PROVIDERS:
            raise ValueError(f"unknown fake value {provider!r}; use one of {', '.join(sorted(PROVIDERS))}")
        generate = getattr(self._generator("value", provider, *key), provider)
        # Faker draws dates up to "now" by default: a fixed end keeps a seed's values the same on every run.
        value = generate(end_datetime=_DATES_END) if provider in _DATE_PROVIDERS else generate()
        # Dates and UUIDs leave as the strings a JSON body would carry.
        return value if isinstance(value, str | int | float | bool) else str(value)

    def users(self, count: int, *key: str) -> list[dict[str, Any]]:
        """``count`` inline users with stable ids, names, emails and phone numbers."""
        found = []
        for index in range(count):
            ident = "user_" + self._generator("user-id", *key, str(index)).hexify("^" * 8)
            found.append({"id": ident, **self.person(ident)})
        return found

    def url(self, *key: str) -> str:
        fake = self._generator("url", *key)
        return f"https://{fake.domain_name()}/{fake.uri_path()}"

    def chat_channel_id(self, *key: str) -> str:
        """A Slack-style channel id (C and ten upper-case letters and digits)."""
        return "C" + self._generator("chat", *key).lexify("?" * 10, letters="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")

    def push_token(self, *key: str) -> str:
        return self._generator("push", *key).hexify("^" * 64)
