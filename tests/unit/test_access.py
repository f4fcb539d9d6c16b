from engine.domain.access import Person, check_password, hash_password, unknown_roles


def test_a_social_worker_acts_on_their_teams_social_work_steps_only():
    sam = Person("sw.sam", frozenset({"social_worker"}), frozenset({"north"}))
    assert sam.may_act_on("social_worker", "north")
    assert sam.may_act_on("cic_social_worker", "north")
    assert not sam.may_act_on("social_worker", "south")  # another team's case
    assert not sam.may_act_on("team_manager", "north")  # another role's step
    assert not sam.may_assign_in("north")


def test_head_of_service_covers_every_team_and_managers_assign_in_their_own():
    hos = Person("hos.hana", frozenset({"head_of_service", "team_manager"}), frozenset())
    assert hos.may_act_on("head_of_service", "south") and hos.may_assign_in("south")
    tm = Person("tm.tom", frozenset({"team_manager"}), frozenset({"north"}))
    assert tm.may_assign_in("north") and not tm.may_assign_in("south")


def test_panel_support_records_panel_decisions_and_unknown_roles_are_reported():
    pat = Person("panel.pat", frozenset({"panel_support"}), frozenset({"north"}))
    assert pat.may_act_on("permanency_panel", "north")
    assert unknown_roles(["iro", "wizard"]) == ["wizard"]


def test_passwords_are_salted_and_checked_in_constant_time():
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second and first.startswith("$argon2id$")
    assert check_password("correct horse", first)
    assert not check_password("wrong", first)
    assert not check_password("x", "not-a-hash")
