def test_fixture_database_is_migrated(db):
    plan = db.execute("SELECT count(*) AS n FROM enrollment_step_plan WHERE flow_type = 'signup'").fetchone()
    assert plan["n"] == 11
