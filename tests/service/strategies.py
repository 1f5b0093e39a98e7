"""Hypothesis strategies shared by the service's fuzz tests."""

from hypothesis import strategies as st


def json_values():
    return st.recursive(
        st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
        ),
        max_leaves=30,
    )
