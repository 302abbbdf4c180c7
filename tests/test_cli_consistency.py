"""CLI modules keep light copies of library constants (so `--help` imports nothing heavy);
they must agree with the library."""
from crm_research.commands import kpi as kpi_cmd
from crm_research.kpi import orders


def test_kpi_cli_policy_choices_match_the_loader():
    assert kpi_cmd.PROBLEM_FLAGS == orders.POLICY_CHOICES
