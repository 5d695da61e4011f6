"""TeamViewer ids: stable, of TeamViewer's form, mapped back within the caller's company only, collisions refused."""

import re

import pytest

from server import admin
from server.models import Company
from server.teamviewer import ids
from tests.support.databases import migrated_database


@pytest.fixture(scope="module")
def database(backend, request, tmp_path_factory):
    with migrated_database(backend, request, tmp_path_factory) as database:
        yield database


@pytest.fixture(scope="module")
def companies(database):
    """Two companies, each with a user and a group: (company id, user id, group id) each."""
    made = []
    with database.write() as session:
        for name in ("Ours", "Theirs"):
            company = admin.create_company(session, name=name)
            user = admin.create_user(session, company=company, email=f"boss@{name.lower()}.test", role="admin").item
            group = admin.create_group(session, company=company, name="first line", member_emails=[])
            session.flush()
            made.append((company.id, user.id, group.id))
    return made


def test_ids_have_teamviewers_form_and_never_change():
    """u and g followed by digits, the same for the same id every time, never u0 (nobody)."""
    our_id = "7b72ce33-b5eb-4b88-8dca-e63cc406f15b"
    assert re.fullmatch(ids.USER_PATTERN, ids.user_tv_id(our_id))
    assert re.fullmatch(ids.GROUP_PATTERN, ids.group_tv_id(our_id))
    assert ids.user_tv_id(our_id) == ids.user_tv_id(our_id) != ids.NOBODY
    assert ids.user_tv_id(our_id)[1:] == ids.group_tv_id(our_id)[1:]


def test_an_id_maps_back_to_the_users_and_groups_of_the_callers_company_only(database, companies):
    """Each company finds its own user and group by their ids, and nothing by the other company's."""
    (ours, our_user, our_group), (theirs, their_user, their_group) = companies
    with database.read() as session:
        assert ids.find_user(session, ours, ids.user_tv_id(our_user)).id == our_user
        assert ids.find_group(session, ours, ids.group_tv_id(our_group)).id == our_group
        assert ids.find_user(session, ours, ids.user_tv_id(their_user)) is None
        assert ids.find_group(session, ours, ids.group_tv_id(their_group)) is None
        assert ids.find_user(session, ours, "g1") is None
        assert ids.find_user(session, ours, ids.NOBODY) is None


def test_two_of_one_company_with_the_same_id_are_refused_loudly(database, companies, monkeypatch):
    """Were two users to share digits, the look-up raises instead of picking one."""
    ours = companies[0][0]
    with database.write() as session:
        company = session.get(Company, ours)
        admin.create_user(session, company=company, email="twin@ours.test", role="supporter")
    monkeypatch.setattr(ids, "_digits", lambda our_id: "42")
    with database.read() as session, pytest.raises(ids.IdCollision):
        ids.find_user(session, ours, "u42")
