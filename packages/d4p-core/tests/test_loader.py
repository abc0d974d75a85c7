"""d4p.loader: KEY=VALUE texts for -p and for mapping options."""

import d4p
import pytest
from d4p.loader import key_values


def test_key_values_take_texts_one_text_or_a_dict():
    assert key_values(["executor.memory=2g", " a.b = c=d "]) == \
        {"executor.memory": "2g", "a.b": "c=d"}
    assert key_values("x=1") == {"x": "1"}
    assert key_values({"x": 1}) == {"x": "1"}
    assert key_values(()) == key_values(None) == {}


def test_a_text_without_a_key_names_what_it_was_given_to():
    with pytest.raises(d4p.UsageError, match="option 'conf' of mapping 'm' takes KEY=VALUE, "
                       "such as executor.memory=2g; got '=2g'"):
        key_values(["=2g"], "option 'conf' of mapping 'm'", "executor.memory=2g")
    with pytest.raises(d4p.UsageError, match="-p takes KEY=VALUE; got 'n'"):
        key_values(["n"])
