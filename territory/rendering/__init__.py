"""Pictures and pages for people: the run report, the comparison page, charts, console tables."""
