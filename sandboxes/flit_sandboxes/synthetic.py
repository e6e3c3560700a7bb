"""Helpers shared by the synthetic practice builders (Dentrix demo practice, PracticeHub demo practice)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


def faker_pool(make: Callable[[], str], size: int) -> np.ndarray:
    """Up to ``size`` distinct values from a Faker method, in first-seen order (object array).

    Draws at most ``20 * size`` values, so a method with fewer distinct values returns fewer; the
    order depends only on the Faker instance's seed, which keeps the builders deterministic.
    """
    seen: dict[str, None] = {}
    for _ in range(size * 20):
        seen.setdefault(make(), None)
        if len(seen) == size:
            break
    return np.array(list(seen), dtype=object)


@dataclass(frozen=True)
class NamePools:
    """Small pools of synthetic people and places (object arrays): female and male first names, last
    names, streets, and cities with an aligned state and ZIP code each; ``company`` may be empty."""

    first_f: np.ndarray
    first_m: np.ndarray
    last: np.ndarray
    street: np.ndarray
    city: np.ndarray  # (k,) city names; state/zipcode aligned
    state: np.ndarray
    zipcode: np.ndarray
    company: np.ndarray


def name_pools(seed: int, *, first: int, last: int, street: int, city: int, company: int = 0,
               street_kind: str = "street_address") -> NamePools:
    """Deterministic Faker (en_US) pools of the given sizes for ``seed``.

    Names keep letters only (no apostrophes or hyphens). ``street_kind`` is the Faker method for
    streets (``street_address`` with house numbers, or ``street_name``). Draw order is fixed (cities,
    first names, last names, streets, states, ZIP codes, companies), so output depends only on the
    arguments.
    """
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)

    def alpha(f: Callable[[], str]) -> Callable[[], str]:
        return lambda: "".join(ch for ch in f() if ch.isalpha())

    cities = faker_pool(fake.city, city)
    first_f = faker_pool(alpha(fake.first_name_female), first)
    first_m = faker_pool(alpha(fake.first_name_male), first)
    lasts = faker_pool(alpha(fake.last_name), last)
    streets = faker_pool(getattr(fake, street_kind), street)
    states = np.array([fake.state_abbr(include_territories=False) for _ in cities], dtype=object)
    zipcodes = np.array([fake.zipcode() for _ in cities], dtype=object)
    companies = (faker_pool(lambda: fake.company().replace(",", ""), company) if company
                 else np.array([], dtype=object))
    return NamePools(first_f=first_f, first_m=first_m, last=lasts, street=streets, city=cities, state=states,
                     zipcode=zipcodes, company=companies)
