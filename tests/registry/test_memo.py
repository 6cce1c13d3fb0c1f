"""ProcessMemo: built once per key, bounded by forgetting everything past its limit."""

from registry.selectors.memo import ProcessMemo


def test_a_value_is_built_once_per_key():
    built = []
    memo = ProcessMemo(limit=3)

    def build(n):
        built.append(n)
        return f"sql {n}"

    assert memo.get_or_build("a", lambda: build(1)) == "sql 1"
    assert memo.get_or_build("a", lambda: build(2)) == "sql 1"
    assert built == [1]


def test_past_its_limit_it_forgets_every_key_and_keeps_the_new_one():
    memo = ProcessMemo(limit=2)
    memo.put("a", 1)
    memo.put("b", 2)
    memo.put("b", 3)  # a key it holds is replaced, nothing forgotten
    assert (memo.get("a"), memo.get("b"), len(memo)) == (1, 3, 2)
    memo.put("c", 4)
    assert (memo.get("a"), memo.get("b"), memo.get("c"), len(memo)) == (None, None, 4, 1)
    memo.clear()
    assert len(memo) == 0
