"""`todo.agent.v1.AgentService`: one Respond call runs the assistant and streams typed events.

The service is stateless: the caller sends the recent history with every request. Identity is
the verified token (`current_principal()`); it goes into the run context for the tools and is
forwarded to the tasks service, never taken from the request body or the model.

Lifecycle of a run, and why:
- The run ends at the tighter of the caller's gRPC deadline (minus a small margin, so the
  `run_failed` event can still be delivered) and the service's wall-clock cap. A timer cancels
  the run (`RunResultStreaming.cancel()`), which ends the SDK's event stream; no task is
  cancelled from under the gRPC write.
- When the caller cancels, the RPC's done-callback marks the context cancelled (tools refuse
  to start) and cancels the run; the handler's `finally` waits for the SDK's run task and any
  tool task to settle, then lets CancelledError propagate.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import aclosing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import grpc
from agents import Agent, RunConfig, Runner, StreamEvent
from agents.models.interface import Model
from agents.result import RunResultStreaming
from todo.agent.v1 import agent_service_pb2 as pb
from todo.agent.v1 import agent_service_pb2_grpc
from todo.tasks.v1 import tasks_service_pb2_grpc
from todo_common.errors import DomainError, FieldViolation, InvalidArgument, ResourceExhausted
from todo_common.tokens import current_principal

from todo_agent.assistant import build_agents
from todo_agent.context import AgentContext
from todo_agent.events import EventMapper
from todo_agent.failures import failure_for, limit_failure
from todo_agent.history_budget import HistoryBudget
from todo_agent.intents import is_known, model_settings
from todo_agent.models import LeastBusy
from todo_agent.offline.model import OfflineModel
from todo_agent.settings import OFFLINE_MODEL, AgentSettings
from todo_agent.task_refs import (
    MAX_REF_ID_CHARS,
    MAX_REF_TITLE_CHARS,
    MAX_REFS_PER_MESSAGE,
    render_for_model,
    render_user_text,
)
from todo_agent.titles import suggest_title
from todo_agent.usage import track_run_usage, usage_message

log = logging.getLogger(__name__)

MAX_THREAD_ID_CHARS = 128
_LOCALE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,4}$")
# Time kept back from the caller's deadline to deliver the final event.
DEADLINE_MARGIN_SECONDS = 0.25
# How long a cancelled run may take to unwind before its tasks are cancelled again.
SETTLE_SECONDS = 2.0
# What a turn refused past `max_concurrent_turns` says (RESOURCE_EXHAUSTED; the edge: 429).
BUSY_REASON = "AGENT_BUSY"
BUSY_MESSAGE = (
    "The assistant is busy with too many conversations right now. Please try again in a moment."
)

Clock = Callable[[ZoneInfo], datetime]


def system_clock(zone: ZoneInfo) -> datetime:
    """The current time in `zone` (tests pass a fixed clock instead)."""
    return datetime.now(UTC).astimezone(zone)


class AgentPool:
    """Copies of the agent graph's starting agent, each used by one run at a time.

    For every turn the SDK checks that no concurrent run changed the agent's tools
    (`agents.run_internal.agent_tool_configuration`) by scanning every run active on the same
    `Agent` object, under a process-wide lock: with N runs sharing one object each check is
    O(N), so a burst of N turns costs O(N²) (profiled: ~2 % of the agent at 200 streams, and
    growing with N). The SDK's advice is an agent per run (`agent.clone(tools=[*agent.tools])`),
    but a clone validates the whole agent (~0.5 ms), so copies are kept and reused: at most as
    many exist as runs have been open at once. The copies share the tools, instructions and
    handoffs, so every run behaves exactly as with the original.
    """

    def __init__(self, agent: Agent[AgentContext]) -> None:
        self.agent = agent
        self._free: list[Agent[AgentContext]] = []

    @contextmanager
    def acquire(self) -> Iterator[Agent[AgentContext]]:
        """An agent no other run is using, returned to the pool when the block ends."""
        agent = self._free.pop() if self._free else self.agent.clone(tools=[*self.agent.tools])
        try:
            yield agent
        finally:
            self._free.append(agent)


@dataclass(frozen=True)
class ModelChoice:
    """One model a turn may run: its run configurations (one per model object; each turn
    takes the least busy, see todo_agent.models) and its history budget."""

    name: str
    run_configs: LeastBusy[RunConfig]
    history_budget: HistoryBudget
    offline: bool


def _model_entry(name: str, default: bool) -> pb.AgentModel:
    """How ListModels describes a model."""
    if name == OFFLINE_MODEL:
        return pb.AgentModel(
            id=name,
            label="Offline assistant",
            description="Built in, no network: understands plain task commands.",
            default=default,
        )
    return pb.AgentModel(id=name, label=name, description="A language model.", default=default)


class AgentService(agent_service_pb2_grpc.AgentServiceServicer):
    """Runs the assistant for one user turn per call."""

    def __init__(
        self,
        settings: AgentSettings,
        models: Model | Sequence[Model] | Mapping[str, Sequence[Model]],
        tasks: tasks_service_pb2_grpc.TaskServiceAsyncStub,
        *,
        clock: Clock = system_clock,
        agent: Agent[AgentContext] | None = None,
    ) -> None:
        """`models`: the model objects of each model a turn may pick, the default first
        (`todo_agent.models.build_model_choices`), or those of the default model alone."""
        self._settings = settings
        self._tasks = tasks
        self._clock = clock
        self._agents = AgentPool(agent or build_agents())
        if isinstance(models, Model):
            models = [models]
        if not isinstance(models, Mapping):
            models = {settings.model_names[0]: models}
        self._choices = {
            name: ModelChoice(
                name=name,
                run_configs=LeastBusy(
                    [
                        RunConfig(
                            model=model,
                            tracing_disabled=not settings.tracing_enabled,
                            trace_include_sensitive_data=False,
                            workflow_name="todo-assistant",
                        )
                        for model in objects
                    ]
                ),
                history_budget=HistoryBudget.for_model(
                    settings.for_model(name), self._agents.agent
                ),
                offline=settings.for_model(name).is_offline,
            )
            for name, objects in models.items()
        }
        self._default = next(iter(self._choices.values()))
        self._model_list = pb.ListModelsResponse(
            models=[_model_entry(name, name == self._default.name) for name in self._choices]
        )
        self._turns = 0

    def _validate(self, request: pb.RespondRequest) -> tuple[ZoneInfo, ModelChoice]:
        s = self._settings
        violations: list[FieldViolation] = []
        choice = self._choices.get(request.model) if request.model else self._default
        if choice is None:
            violations.append(FieldViolation("model", "must be a model ListModels lists"))
        violations.extend(_ref_violations("input_tasks", request.input_tasks))
        if not request.input.strip():
            violations.append(FieldViolation("input", "must contain text, not only white space"))
        elif len(request.input) > s.max_input_chars:
            violations.append(
                FieldViolation("input", f"must be at most {s.max_input_chars} characters")
            )
        if len(request.history) > s.max_history_messages:
            violations.append(
                FieldViolation(
                    "history",
                    f"must hold at most {s.max_history_messages} messages; send the newest",
                )
            )
        for index, message in enumerate(request.history[: s.max_history_messages]):
            if message.role not in (pb.ROLE_USER, pb.ROLE_ASSISTANT):
                violations.append(
                    FieldViolation(f"history[{index}].role", "must be ROLE_USER or ROLE_ASSISTANT")
                )
            if len(message.text) > s.max_history_message_chars:
                violations.append(
                    FieldViolation(
                        f"history[{index}].text",
                        f"must be at most {s.max_history_message_chars} characters",
                    )
                )
            violations.extend(_ref_violations(f"history[{index}].tasks", message.tasks))
        if len(request.thread_id) > MAX_THREAD_ID_CHARS:
            violations.append(
                FieldViolation("thread_id", f"must be at most {MAX_THREAD_ID_CHARS} characters")
            )
        if len(request.input_item_id) > MAX_THREAD_ID_CHARS:
            violations.append(
                FieldViolation("input_item_id", f"must be at most {MAX_THREAD_ID_CHARS} characters")
            )
        if not is_known(request.intent):
            violations.append(FieldViolation("intent", "must be a known Intent"))
        if request.locale and not _LOCALE.match(request.locale):
            violations.append(FieldViolation("locale", "must be a BCP 47 tag such as en or ur-PK"))
        zone = ZoneInfo("UTC")
        if request.time_zone:
            try:
                zone = ZoneInfo(request.time_zone)
            except (ZoneInfoNotFoundError, ValueError):
                violations.append(
                    FieldViolation("time_zone", "must be an IANA time zone such as Europe/London")
                )
        if violations or choice is None:
            raise InvalidArgument("The request is not valid.", field_violations=violations)
        return zone, choice

    @staticmethod
    def _input_items(request: pb.RespondRequest) -> list[Any]:
        """The conversation as the model reads it: each message with its task refs written
        in (`todo_agent.task_refs`)."""
        items: list[Any] = []
        for message in request.history:
            if not message.text.strip():
                continue
            role = "user" if message.role == pb.ROLE_USER else "assistant"
            items.append({"role": role, "content": render_for_model(message)})
        items.append(
            {"role": "user", "content": render_user_text(request.input, request.input_tasks)}
        )
        return items

    @staticmethod
    def _known_titles(request: pb.RespondRequest) -> dict[str, str]:
        """The tasks the request names → their titles (the ids a reply may refer to)."""
        titles = {ref.id: ref.title for message in request.history for ref in message.tasks}
        titles.update((ref.id, ref.title) for ref in request.input_tasks)
        return titles

    async def Respond(
        self, request: pb.RespondRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.RespondEvent]:
        zone, choice = self._validate(request)
        if self._turns >= self._settings.max_concurrent_turns:
            log.warning("turn refused: busy", extra={"running": self._turns})
            raise ResourceExhausted(
                BUSY_MESSAGE,
                reason=BUSY_REASON,
                retry_after_seconds=self._settings.busy_retry_after_seconds,
            )
        self._turns += 1
        try:
            with choice.run_configs.acquire() as run_config, self._agents.acquire() as agent:
                # aclosing: if the RPC ends while an event is being sent, the run's own clean-up
                # (`_respond`'s finally) runs now, not when the generator is collected.
                run = self._respond(request, context, zone, choice, run_config, agent)
                async with aclosing(run) as events:
                    async for event in events:
                        yield event
        finally:
            self._turns -= 1

    async def SuggestTitle(
        self, request: pb.SuggestTitleRequest, context: grpc.aio.ServicerContext
    ) -> pb.SuggestTitleResponse:
        """A short thread title from the configured model (`todo_agent.titles`)."""
        choice = self._default
        with choice.run_configs.acquire() as run_config:
            return await suggest_title(
                self._title_model(choice, run_config),
                request,
                max_input_chars=self._settings.max_input_chars,
            )

    async def ListModels(
        self, request: pb.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListModelsResponse:
        """The models a Respond call may pick, the default first."""
        return self._model_list

    @staticmethod
    def _title_model(choice: ModelChoice, run_config: RunConfig) -> Model | None:
        """The model that writes titles (None: the offline model, which writes none)."""
        return None if choice.offline else cast(Model, run_config.model)

    async def _respond(
        self,
        request: pb.RespondRequest,
        context: grpc.aio.ServicerContext,
        zone: ZoneInfo,
        choice: ModelChoice,
        run_config: RunConfig,
        agent: Agent[AgentContext],
    ) -> AsyncGenerator[pb.RespondEvent, None]:
        principal = current_principal()
        settings = self._settings
        loop = asyncio.get_running_loop()
        budget = settings.run_timeout_seconds
        caller_remaining = context.time_remaining()
        bound_by_caller = False
        if caller_remaining is not None and caller_remaining - DEADLINE_MARGIN_SECONDS < budget:
            budget = max(0.0, caller_remaining - DEADLINE_MARGIN_SECONDS)
            bound_by_caller = True
        run_context = AgentContext(
            user_id=principal.user_id,
            token=principal.token,
            tasks=self._tasks,
            time_zone=zone,
            now=self._clock(zone),
            deadline=loop.time() + budget,
            tool_timeout_seconds=settings.tool_timeout_seconds,
            locale=request.locale,
            thread_id=request.thread_id,
            input_item_id=request.input_item_id,
            task_titles=self._known_titles(request),
            intent=request.intent,
        )
        if request.intent:
            # A copy for this run: the configurations are shared by every run.
            run_config = dataclasses.replace(
                run_config, model_settings=model_settings(request.intent, run_config.model_settings)
            )
        log.info(
            "run started",
            extra={
                "thread_id": request.thread_id,
                "history": len(request.history),
                "input_chars": len(request.input),
                "model": choice.name,
            },
        )
        # The title (first turns: `suggest_title`) is written while the run goes on, by its own
        # model request; started before the usage tally, so its tokens are not the run's.
        title = _start_title(
            self._title_model(choice, run_config), request, settings.max_input_chars
        )
        usage_tally = track_run_usage()  # before the run's task starts: it inherits the tally
        result = Runner.run_streamed(
            agent,
            choice.history_budget.fit(self._input_items(request)),
            context=run_context,
            max_turns=settings.max_turns,
            run_config=run_config,
        )
        timed_out = False

        def stop(reason: str) -> None:
            nonlocal timed_out
            if (
                result.is_complete
                and result.run_loop_task is not None
                and result.run_loop_task.done()
            ):
                return
            timed_out = timed_out or reason == "deadline"
            run_context.cancelled = True
            result.cancel()

        timer = loop.call_at(run_context.deadline, stop, "deadline")
        context.add_done_callback(lambda _ctx: stop("rpc done"))
        mapper = EventMapper(
            run_context,
            agent.name,
            flush_interval_seconds=settings.text_flush_interval_seconds,
            flush_chars=settings.text_flush_chars,
        )
        # The SDK stream is read by its own task into a queue, so buffered text can be flushed
        # on a timer while the model pauses (reading with a timeout from the SDK stream itself
        # would cancel the run when the timeout fires).
        queue: asyncio.Queue[StreamEvent | _StreamEnd] = asyncio.Queue()
        pump = asyncio.create_task(_pump(result, queue), name="agent-run-stream")
        finished = False
        try:
            yield pb.RespondEvent(run_started=_run_started(run_config, settings))
            failure: pb.RunFailed | None = None
            while True:
                wait = mapper.flush_due_in()
                if wait is None:
                    item = await queue.get()
                else:
                    try:
                        item = await asyncio.wait_for(queue.get(), wait)
                    except TimeoutError:
                        for event in mapper.flush():
                            yield event
                        continue
                if isinstance(item, _StreamEnd):
                    if item.error is not None:
                        exc = item.error
                        log.warning(
                            "run failed",
                            extra={"error": type(exc).__name__},
                            exc_info=_unexpected(exc),
                        )
                        failure = failure_for(exc)
                    break
                for event in mapper.map(item):
                    yield event
            for event in mapper.close():
                yield event
            if failure is None and timed_out:
                failure = limit_failure(caller_deadline=bound_by_caller)
            if failure is not None:
                yield pb.RespondEvent(run_failed=failure)
            else:
                yield pb.RespondEvent(
                    run_finished=pb.RunFinished(
                        usage=usage_message(result.context_wrapper.usage, usage_tally),
                        turns=result.current_turn,
                        last_agent=mapper.agent_name,
                        title=await _title(title, run_context.deadline - loop.time()),
                    )
                )
            finished = True
            log.info(
                "run ended",
                extra={
                    "turns": result.current_turn,
                    "failure": pb.FailureCode.Name(failure.code) if failure else "",
                },
            )
        finally:
            timer.cancel()
            if title is not None:
                title.cancel()  # a no-op once it is done
            if not finished:
                stop("abandoned")
            await _settle(result, run_context, pump)


def _ref_violations(field: str, refs: Sequence[pb.TaskRef]) -> list[FieldViolation]:
    """What is wrong with a message's task refs (too many, an empty or long id or title)."""
    if len(refs) > MAX_REFS_PER_MESSAGE:
        return [FieldViolation(field, f"must hold at most {MAX_REFS_PER_MESSAGE} tasks")]
    for index, ref in enumerate(refs):
        if not 0 < len(ref.id) <= MAX_REF_ID_CHARS:
            return [FieldViolation(f"{field}[{index}].id", "must be 1 to 128 characters")]
        if len(ref.title) > MAX_REF_TITLE_CHARS or ref.position < 0:
            return [
                FieldViolation(
                    f"{field}[{index}]", "needs a title of at most 500 characters, position >= 0"
                )
            ]
    return []


def _run_started(run_config: RunConfig, settings: AgentSettings) -> pb.RunStarted:
    """The first event of a run: which model answers it."""
    if isinstance(run_config.model, OfflineModel):
        return pb.RunStarted(model=OFFLINE_MODEL, offline=True)
    # An SDK model object carries its name (`OpenAIChatCompletionsModel.model`, …).
    name = getattr(run_config.model, "model", None)
    return pb.RunStarted(model=name if isinstance(name, str) and name else settings.model)


def _start_title(
    model: Model | None, request: pb.RespondRequest, max_input_chars: int
) -> asyncio.Task[pb.SuggestTitleResponse] | None:
    """The title request of a first turn, running (None when none is asked for, or the model
    is the offline one, which writes none)."""
    if not request.suggest_title or model is None:
        return None
    ask = pb.SuggestTitleRequest(text=request.input, locale=request.locale)
    return asyncio.create_task(
        suggest_title(model, ask, max_input_chars=max_input_chars), name="agent-run-title"
    )


async def _title(task: asyncio.Task[pb.SuggestTitleResponse] | None, within: float) -> str:
    """The title the model wrote, or "" when it wrote none, failed, or is not done `within`
    seconds (the run's deadline: the answer is not held back for a title)."""
    if task is None:
        return ""
    try:
        response = await asyncio.wait_for(task, max(0.0, within))
    except (DomainError, TimeoutError):
        return ""  # suggest_title logged a model failure
    return response.title


def _unexpected(exc: BaseException) -> bool:
    """Whether an error deserves a stack trace in the log (provider errors do not)."""
    import openai
    from agents import MaxTurnsExceeded

    return not isinstance(exc, openai.APIError | MaxTurnsExceeded)


@dataclass
class _StreamEnd:
    """The SDK stream is over; `error` is what ended it, if anything did."""

    error: Exception | None = None


async def _pump(result: RunResultStreaming, queue: asyncio.Queue[StreamEvent | _StreamEnd]) -> None:
    """Moves the SDK's stream events into `queue`, then a `_StreamEnd`."""
    try:
        async for event in result.stream_events():
            queue.put_nowait(event)
    except Exception as exc:
        queue.put_nowait(_StreamEnd(exc))
    else:
        queue.put_nowait(_StreamEnd())


async def _settle(
    result: RunResultStreaming, context: AgentContext, pump: asyncio.Task[None]
) -> None:
    """Waits until the stream pump, the SDK's run task and every tool task of this run have
    finished."""
    if not pump.done():
        pump.cancel()
    tasks = {t for t in context.tool_tasks if not t.done()}
    tasks.add(pump)
    if result.run_loop_task is not None and not result.run_loop_task.done():
        tasks.add(result.run_loop_task)
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=SETTLE_SECONDS)
    for task in pending:
        log.warning("task did not stop after cancellation", extra={"task": task.get_name()})
        task.cancel()
