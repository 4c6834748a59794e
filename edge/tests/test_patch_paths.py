"""The REST patch body and the tasks service agree on which fields a patch may name."""

from todo_edge.schemas import TaskPatch, task_from_patch
from todo_tasks.validation import UPDATABLE_PATHS


def test_every_patch_field_is_an_updatable_path_in_the_same_order() -> None:
    assert tuple(TaskPatch.model_fields) == UPDATABLE_PATHS


def test_the_mask_names_the_fields_sent_in_field_order() -> None:
    body = TaskPatch.model_validate({"tags": ["home"], "title": "Buy oat milk", "due_time": None})
    task, paths = task_from_patch("t1", body)
    assert paths == ["title", "due_time", "tags"]
    assert task.title == "Buy oat milk"
    assert list(task.tags) == ["home"]
    assert not task.HasField("due_time")
