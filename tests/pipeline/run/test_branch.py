import pytest

from pipeline.run.branch import BRANCH_TYPES, branch_type_from_ref, check_branch_type


@pytest.mark.parametrize(
    "ref, expected",
    [
        ("refs/heads/main", "main"),
        ("main", "main"),
        ("refs/heads/release/1.2", "release"),
        ("release/1.2", "release"),
        ("refs/heads/release-2024.05", "release"),
        ("refs/tags/v1.2.3", "release"),
        ("refs/tags/v2", "release"),
        ("refs/tags/release-7", "release"),
        ("refs/heads/feature/x", "feature"),
        ("refs/heads/fix-login", "feature"),
        ("refs/heads/mainline", "feature"),
        ("refs/heads/main/sub", "feature"),
        ("refs/heads/releases", "feature"),
        ("refs/heads/release", "feature"),
        ("refs/heads/release/", "feature"),
        ("refs/tags/nightly", "feature"),
        ("refs/tags/version-1", "feature"),
        ("refs/pull/42/merge", "feature"),
        ("  refs/heads/main\n", "main"),
    ],
)
def test_branch_type_from_ref(ref, expected):
    assert branch_type_from_ref(ref) == expected


def test_empty_ref_is_an_error_naming_the_option():
    with pytest.raises(ValueError, match="--branch: empty ref"):
        branch_type_from_ref("  ")


@pytest.mark.parametrize("value", BRANCH_TYPES)
def test_known_branch_types_pass(value):
    assert check_branch_type(value) == value


def test_unknown_branch_type_names_the_allowed_ones():
    with pytest.raises(ValueError) as err:
        check_branch_type("hotfix")
    assert str(err.value) == "--branch-type: 'hotfix' is not one of feature, main, release"
