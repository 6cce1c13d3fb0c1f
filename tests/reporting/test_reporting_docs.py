"""Every definition is written once: docs/reporting.md's definitions are the code's docstrings."""

from reporting import definitions


def test_the_documented_definitions_are_the_code_docstrings():
    # After changing a definition in the code: python -m reporting.definitions
    assert definitions.current() == definitions.markdown()


def test_the_generated_section_carries_every_definition_and_source():
    text = definitions.current()
    for heading in ("**Census**", "**Pump-years**", "**Complications**", "**Reminders**", "**Follow-up adherence**"):
        assert heading in text
    assert "PMC6808077" in text and "k-anonymity" in text
