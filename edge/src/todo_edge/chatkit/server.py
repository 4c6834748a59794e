"""The edge's ChatKit server: the SDK's `ChatKitServer` over our store and the agent service.

`respond()` sends the thread's recent history and the new message to `AgentService.Respond`
(with the caller's token, the request id and a deadline) and maps the typed event stream to
ChatKit events (`events.RunTranslator`). When the client goes away the SDK's stream is
cancelled; the CancelledError reaches the `async for` over the gRPC call, whose `finally`
cancels the call, and the agent service then cancels the run. The SDK itself keeps the
partial answer and notes the stop in the thread.

Widget actions (task cards' buttons) run without the model (`actions.run_card_action`).
The thread title is written when the first exchange ends: the agent's configured model writes
it while it answers (`RespondRequest.suggest_title`, the title in `RunFinished`: the edge has no
model of its own and makes no second call for it); with the offline model, or when the model
wrote none, it is derived from the first message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import grpc
from chatkit.actions import Action
from chatkit.server import ChatKitServer, NonStreamingResult, StreamingResult
from chatkit.types import (
    ChatKitReq,
    ErrorEvent,
    FeedbackKind,
    SyncCustomActionResponse,
    ThreadItem,
    ThreadItemReplacedEvent,
    ThreadMetadata,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadStreamEvent,
    UserMessageItem,
    WidgetItem,
    WorkflowItem,
    is_streaming_req,
)
from todo.agent.v1 import agent_service_pb2 as agent_pb
from todo.agent.v1 import agent_service_pb2_grpc
from todo.tasks.v1 import tasks_service_pb2_grpc
from todo_common.channels import bind_caller
from todo_common.errors import DomainError

from todo_edge.chatkit.actions import (
    ActionOutcome,
    BulkOutcome,
    run_card_action,
)
from todo_edge.chatkit.admission import TurnSlots
from todo_edge.chatkit.composer import composer_intent
from todo_edge.chatkit.context import ChatContext
from todo_edge.chatkit.events import RunTranslator, rpc_error_event, tasks_changed_effect
from todo_edge.chatkit.history import load_history, user_text
from todo_edge.chatkit.model_choice import ModelCatalog, unknown_model_message
from todo_edge.chatkit.notices import note_offline_notice, offline_notice_shown
from todo_edge.chatkit.requests import parse_request
from todo_edge.chatkit.run_lock import ThreadRunLocks
from todo_edge.chatkit.store import TodoChatKitStore
from todo_edge.chatkit.task_refs import check_mentions
from todo_edge.chatkit.workflow import stopped_workflow
from todo_edge.settings import EdgeSettings

log = logging.getLogger(__name__)

MAX_TITLE_CHARS = 60

# How the SDK's `stream_options` frame starts: the end of a turn's opening frames.
STREAM_OPTIONS_FRAME = b'data: {"type":"stream_options"'


def derive_title(text: str) -> str:
    """A thread title from the first message: collapsed white space, first letter upper case,
    cut at a word boundary with an ellipsis."""
    words = re.sub(r"\s+", " ", text).strip()
    if not words:
        return "New chat"
    if len(words) > MAX_TITLE_CHARS:
        cut = words[: MAX_TITLE_CHARS - 1]
        if " " in cut[MAX_TITLE_CHARS // 2 :]:
            cut = cut[: cut.rindex(" ")]
        words = cut.rstrip(" ,.;:-") + "…"
    return words[0].upper() + words[1:]


class TodoChatKitServer(ChatKitServer[ChatContext]):
    """ChatKit for the todo assistant."""

    def __init__(
        self,
        store: TodoChatKitStore,
        agent: agent_service_pb2_grpc.AgentServiceStub,
        tasks: tasks_service_pb2_grpc.TaskServiceStub,
        settings: EdgeSettings,
    ) -> None:
        super().__init__(store)
        self.chat_store = store
        self._agent = agent
        self._tasks = tasks
        self._settings = settings
        self.turns = TurnSlots(
            settings.chatkit_max_concurrent_turns, settings.chatkit_busy_retry_after_seconds
        )
        # One reply at a time per thread, across edge replicas (`run_lock`: 409 when busy).
        self.run_locks = ThreadRunLocks(settings.database_url)
        # What `inference_options.model` may name (the agent's ListModels, cached).
        self.models = ModelCatalog(agent, timeout_seconds=settings.grpc_timeout_seconds)

    # ---- requests ----

    async def process(
        self, request: str | bytes | bytearray, context: ChatContext
    ) -> StreamingResult | NonStreamingResult:
        """The SDK's `process()`, parsing with an adapter built once (`parse_request`): the
        SDK builds a new `TypeAdapter(ChatKitReq)` for every request, which was ~20 % of the
        edge's CPU per chat turn (profiled)."""
        return await self.process_parsed(parse_request(request), context)

    async def process_parsed(
        self, request: ChatKitReq, context: ChatContext
    ) -> StreamingResult | NonStreamingResult:
        """Routes an already parsed request exactly as the SDK's `process()` does, with every
        stream inside a turn slot (`admission.TurnSlots`: 429 past the limit) and its thread's
        run lock (`run_lock`: 409 while another reply in the thread runs)."""
        if is_streaming_req(request):
            stream = self.run_locks.guarded(
                request, context, self._process_streaming(request, context)
            )
            if isinstance(request, (ThreadsCreateReq, ThreadsAddUserMessageReq)):
                stream = self._opened_in_one_write(request, context, stream)
            return StreamingResult(self.turns.admitted(stream))
        return NonStreamingResult(await self._process_non_streaming(request, context))

    async def _opened_in_one_write(
        self,
        request: ThreadsCreateReq | ThreadsAddUserMessageReq,
        context: ChatContext,
        stream: AsyncGenerator[bytes, None],
    ) -> AsyncGenerator[bytes, None]:
        """`stream` with its opening frames (`thread.created`, the user message's
        `thread.item.done`, `stream_options`) held until the last of them and then passed on
        back to back, with nothing awaited between them: the response finds them all queued
        and sends them in one socket write (`transport`) instead of one per store round trip.
        Each frame stays its own chunk (the REST routes read one event per chunk).

        For threads.create the new thread's INSERT waits for the user message's write (one
        statement for both, `TodoChatKitStore`): `thread.created` is held until then, so a
        client never sees a thread that is not stored yet. The run lock (`guarded`, inside
        this) is still taken as soon as the SDK names the thread, before anything is stored.
        A stream that fails or is cancelled before the message is stored still stores the
        thread alone, as the SDK's own order would have; a failure then still shows the
        frames that were due before it."""
        held: list[bytes] = []
        if isinstance(request, ThreadsCreateReq):
            context.read_cache.defer_new_threads = True
        try:
            try:
                async for frame in stream:
                    held.append(frame)
                    if frame.startswith(STREAM_OPTIONS_FRAME):
                        break
            except Exception:
                await self._write_unwritten_threads(context)
                for frame in held:
                    yield frame
                raise
            await self._write_unwritten_threads(context)
            for frame in held:
                yield frame
            async for frame in stream:
                yield frame
        finally:
            try:
                await self._write_unwritten_threads(context)
            finally:
                await stream.aclose()

    async def _write_unwritten_threads(self, context: ChatContext) -> None:
        """The request's saved threads that no item write took along, written alone (a no-op
        once there are none)."""
        if not context.read_cache.unwritten_threads():
            return
        try:
            await self.chat_store.write_unwritten_threads(context)
        except Exception:
            log.warning("could not store a new thread", exc_info=True)

    # ---- replies ----

    async def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: ChatContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        """Streams the assistant's answer to `input_user_message`."""
        if input_user_message is None:
            # Only client tool output or structured input lead here; this server asks for
            # neither, so there is nothing to continue.
            return
        settings = self._settings
        model = input_user_message.inference_options.model or ""
        if model:
            try:
                known = await self.models.is_known(model, context.token)
            except grpc.aio.AioRpcError as error:
                yield rpc_error_event(error)
                return
            if not known:
                # Nothing runs and no reply is stored; the message stays, as after any failure.
                yield ErrorEvent(
                    code="custom", message=unknown_model_message(model), allow_retry=False
                )
                return
        # @-mentioned tasks become typed refs; a mention of no task of the caller's becomes
        # plain text, in the stored message too (`task_refs.check_mentions`).
        mentions, rewritten = await check_mentions(
            self._tasks,
            input_user_message,
            token=context.token,
            deadline_seconds=settings.grpc_timeout_seconds,
        )
        if rewritten:
            yield ThreadItemReplacedEvent(item=input_user_message)
        text = user_text(input_user_message)
        history = await load_history(
            self.store,
            thread,
            input_user_message,
            context,
            max_items=settings.chatkit_history_items,
            max_chars=settings.chatkit_max_input_chars,
        )
        locale, zone = context.locale, context.zone
        request = agent_pb.RespondRequest(
            thread_id=thread.id,
            # A retry of this message sends the same id: its task creations are idempotent.
            input_item_id=input_user_message.id,
            input=text[: settings.chatkit_max_input_chars],
            history=history,
            locale=locale,
            time_zone=zone.key,
            input_tasks=mentions,
            model=model,
            intent=composer_intent(input_user_message.inference_options),
            # A first exchange: the agent's model writes the title while it answers.
            suggest_title=thread.title is None,
        )
        translator = RunTranslator(
            thread.id,
            lambda: self.store.generate_item_id("message", thread, context),
            zone,
            new_workflow_id=lambda: self.store.generate_item_id("workflow", thread, context),
            offline_notice_shown=offline_notice_shown(thread),
        )
        # The channel sends the caller's token and the request id.
        agent = bind_caller(
            self._agent, token=context.token, timeout=settings.agent_timeout_seconds
        )
        call = agent.Respond(request)
        title = ""
        try:
            try:
                async for event in call:
                    if event.HasField("run_finished"):
                        title = event.run_finished.title.strip()
                    for out in translator.translate(event):
                        yield out
                for out in translator.stream_ended():
                    yield out
            except grpc.aio.AioRpcError as error:
                log.warning(
                    "agent call failed", extra={"code": error.code().name, "thread_id": thread.id}
                )
                for out in translator.call_failed(error):
                    yield out
        finally:
            # A no-op once the call has ended; on a client abort (CancelledError here) it
            # cancels the RPC, which cancels the agent's run.
            call.cancel()
        if translator.sent_offline_notice:
            # Saved by the SDK with the title, in the thread's one end-of-turn write.
            note_offline_notice(thread)
        if thread.title is None:
            # The SDK saves the thread and sends `thread.updated` when it changed.
            thread.title = title or derive_title(text)

    async def handle_stream_cancelled(
        self, thread: ThreadMetadata, pending_items: list[ThreadItem], context: ChatContext
    ) -> None:
        """The SDK's handling (the partial answer and its "stopped" note are stored), and the
        turn's workflow as it was, its running steps marked stopped: the SDK keeps no
        workflow, and the steps that did run must survive a reload."""
        for item in pending_items:
            if isinstance(item, WorkflowItem):
                await self.store.add_thread_item(thread.id, stopped_workflow(item), context)
        await super().handle_stream_cancelled(thread, pending_items, context)

    # ---- widget actions ----

    async def action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: ChatContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        """A task card's button through `threads.custom_action`: replaces the card."""
        try:
            outcome = await self._run_action(action, sender, context)
        except DomainError as error:
            yield ErrorEvent(code="custom", message=error.message, allow_retry=False)
            return
        except grpc.aio.AioRpcError as error:
            yield rpc_error_event(error)
            return
        if outcome.item is not None:
            yield ThreadItemReplacedEvent(item=outcome.item)
        effect = _effect_of(outcome)
        if effect is not None:
            yield effect

    async def _run_action(
        self, action: Action[str, Any], sender: WidgetItem | None, context: ChatContext
    ) -> ActionOutcome | BulkOutcome:
        """One card action as the caller, for the streamed and the sync route alike."""
        return await run_card_action(
            self._tasks,
            action,
            sender,
            token=context.token,
            deadline_seconds=self._settings.grpc_timeout_seconds,
            zone=context.zone,
        )

    async def sync_action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: ChatContext,
    ) -> SyncCustomActionResponse:
        """A task card's button through `threads.sync_custom_action`: returns the redrawn
        card (and stores it; the SDK does not save sync results). Errors raise DomainError /
        AioRpcError, which the endpoint maps to problem+json."""
        outcome = await self._run_action(action, sender, context)
        if outcome.item is not None:
            await self.store.save_item(thread.id, outcome.item, context=context)
        return SyncCustomActionResponse(updated_item=outcome.item)

    # ---- feedback ----

    async def add_feedback(
        self,
        thread_id: str,
        item_ids: list[str],
        feedback: FeedbackKind,
        context: ChatContext,
    ) -> None:
        """Persists thumbs up/down on the answer's items."""
        await self.chat_store.add_feedback(thread_id, item_ids, feedback, context)


def _effect_of(outcome: ActionOutcome | BulkOutcome) -> ThreadStreamEvent | None:
    """The `tasks.changed` effect of a card action (none when it changed nothing)."""
    if isinstance(outcome, BulkOutcome):
        if not (outcome.changed_task_ids or outcome.deleted_task_ids):
            return None
        return tasks_changed_effect(outcome.changed_task_ids, outcome.deleted_task_ids)
    task_id = outcome.task_id
    deleted = outcome.deleted
    return tasks_changed_effect([] if deleted else [task_id], [task_id] if deleted else [])
