from decimal import Decimal

import pytest

from paycode import Money, MoneyError


def test_money_rejects_float() -> None:
    with pytest.raises(MoneyError):
        Money(1.5, "CNY")  # type: ignore[arg-type]
    assert Money("1.50", "CNY").amount == Decimal("1.50")
