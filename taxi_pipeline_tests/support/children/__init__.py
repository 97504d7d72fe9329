"""Child programs the tests start in a process of their own, to kill it, limit it or run several
at once: each a module with a `main()` reading `sys.argv`, started from the project folder as

    python -m taxi_pipeline_tests.support.children.<name> ARG...

(`support.runs.start_child` and `run_child` do that). What each prints, and when, is what its
test waits for.
"""
