import releasegate.approvals


def test_public_names() -> None:
    assert set(releasegate.approvals.__all__) == {
        "ApprovalError",
        "DecisionNotFoundError",
        "DecisionRecord",
        "DecisionRegistry",
        "SignoffRecord",
        "record_decision",
    }
    for name in releasegate.approvals.__all__:
        assert hasattr(releasegate.approvals, name)
