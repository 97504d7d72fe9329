"""What the tests share: sample files, servers, run and warehouse helpers, child programs.

Fixtures stay in `taxi_pipeline_tests/conftest.py`; everything a test or a fixture imports lives
here, one module per concern. Child programs that tests start in a process of their own are the
modules of `support/children`, run with `python -m taxi_pipeline_tests.support.children.<name>`.
"""
