"""The benchmarks price writes by item size (bench/instrumentation.py): DynamoDB's rules for
names, strings, numbers, booleans, maps and lists, and the started KB it bills."""

from __future__ import annotations

from bench.instrumentation import DynamoDBMeter, item_size


def test_strings_and_names_count_their_utf8_bytes() -> None:
    assert item_size({"PK": {"S": "MEMBER#m-1"}}) == 2 + 10
    assert item_size({"name": {"S": "Zoë"}}) == 4 + 4  # ë is two bytes


def test_numbers_count_half_their_significant_digits_plus_one() -> None:
    assert item_size({"n": {"N": "12345"}}) == 1 + 4
    assert item_size({"n": {"N": "-0.0012"}}) == 1 + 2  # "12": 1 byte, plus 1
    assert item_size({"n": {"N": "1000"}}) == 1 + 2  # trailing zeros are not significant


def test_maps_lists_and_booleans_add_their_overheads() -> None:
    assert item_size({"ok": {"BOOL": True}}) == 2 + 1
    assert item_size({"m": {"M": {"a": {"S": "xy"}}}}) == 1 + 3 + 1 + 2
    assert item_size({"l": {"L": [{"S": "xy"}, {"N": "7"}]}}) == 1 + 3 + (1 + 2) + (1 + 2)


def test_a_put_is_billed_per_started_kb_twice_in_a_transaction_plus_its_index() -> None:
    small = {"PK": {"S": "p"}, "SK": {"S": "s"}, "pad": {"S": "x" * 1000}}
    large = {**small, "pad": {"S": "x" * 1100}, "GSI1PK": {"S": "g"}}
    assert DynamoDBMeter._price({"Put": {"Item": small}}, transactional=True) == (2, 1)
    assert DynamoDBMeter._price({"Put": {"Item": large}}, transactional=True) == (4 + 2, 1)
    assert DynamoDBMeter._price({"PutItem": {"Item": small}}, transactional=False) == (1, 1)
