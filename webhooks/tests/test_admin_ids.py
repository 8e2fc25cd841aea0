"""Admin URLs with ids that are not event keys answer 404, never 500."""

import pytest

from webhooks.tests.factories import WebhookEventFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("object_id", ["abc", "1.5", "-1", "99999999999999999999999", "%20", "1_2"])
def test_replay_of_a_malformed_or_unknown_id_is_404(admin_client, object_id):
    WebhookEventFactory()

    assert admin_client.post(f"/admin/webhooks/webhookevent/{object_id}/replay/").status_code == 404


def test_replay_of_a_real_id_still_works(admin_client):
    event = WebhookEventFactory()

    response = admin_client.post(f"/admin/webhooks/webhookevent/{event.pk}/replay/")

    assert response.status_code == 302
    event.refresh_from_db()
    assert (event.status, event.attempts) == ("processed", 2)
