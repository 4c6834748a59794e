// The chat panel: OpenAI's `<openai-chatkit>` web component from its CDN, configured for our
// backend (api.url = /chatkit, the domain key, a fetch that adds the bearer token), or — when
// that script cannot load (offline, blocked) — the built-in fallback client speaking the same
// protocol. `?chat=builtin` in the page URL forces the fallback.

import { FallbackChat } from "./chat-fallback.js";
import { fetchChatModels, searchTaskEntities, taskPreview, TASK_ENTITY } from "./task-entities.js";

const SCRIPT_TIMEOUT_MS = 5000;
const ACCENT = "#2563eb";

let componentReady = null;

/** Loads the ChatKit script once; resolves true when the custom element is defined. */
function loadComponent(scriptUrl) {
  if (componentReady) return componentReady;
  componentReady = new Promise((resolve) => {
    if (customElements.get("openai-chatkit")) {
      resolve(true);
      return;
    }
    const timer = setTimeout(() => resolve(false), SCRIPT_TIMEOUT_MS);
    const script = document.createElement("script");
    script.src = scriptUrl;
    script.async = true;
    script.addEventListener("error", () => {
      clearTimeout(timer);
      resolve(false);
    });
    customElements.whenDefined("openai-chatkit").then(() => {
      clearTimeout(timer);
      resolve(true);
    });
    document.head.append(script);
  });
  return componentReady;
}

/**
 * The start screen's prompts and the composer's tools, as the edge lists them
 * (`chatkit/composer.py`, in the page configuration): a tool the person picks arrives with the
 * message as `inference_options.tool_choice` and steers the assistant ("Brain dump" adds every
 * line as a task).
 */
function startScreenAndComposer(config, models) {
  return {
    startScreen: {
      greeting: "Hi! What needs doing?",
      prompts: (config.startPrompts || []).map((p) => ({ label: p.label, prompt: p.prompt, icon: p.icon })),
    },
    composer: {
      placeholder: "Message the assistant… (@ names a task)",
      // The model picker shows only when there is a choice.
      ...(models?.length > 1 ? { models } : {}),
      tools: (config.composerTools || []).map((t) => ({
        id: t.id,
        label: t.label,
        shortLabel: t.shortLabel,
        icon: t.icon,
        placeholderOverride: t.placeholderOverride,
        pinned: false,
      })),
    },
  };
}

function prefersDark() {
  return window.matchMedia?.("(prefers-color-scheme: dark)").matches ?? false;
}

export class ChatPanel {
  constructor({ session, root, modeLabel, config, onEffect, onNotice, onOpenTask }) {
    this.session = session;
    this.root = root;
    this.modeLabel = modeLabel;
    this.config = config;
    this.onEffect = onEffect;
    this.onNotice = onNotice;
    this.onOpenTask = onOpenTask || (() => {});
    this.client = null;
    this.element = null;
    this.mode = null;
    this.generation = 0;
  }

  async start() {
    this.stop();
    const generation = ++this.generation;
    const forced = new URLSearchParams(location.search).get("chat") === "builtin";
    const [official, models] = await Promise.all([
      !forced && loadComponent(this.config.scriptUrl),
      fetchChatModels(this.session),
    ]);
    this.models = models;
    // Signed out (or out and in again) while the script was loading: that start is void.
    if (!this.session.signedIn || generation !== this.generation) return;
    if (official) {
      this._startOfficial();
    } else {
      this._startFallback();
    }
  }

  stop() {
    this.generation += 1;
    this.client?.destroy();
    this.client = null;
    this.element?.remove();
    this.element = null;
    this.root.replaceChildren();
    this.root.dataset.mode = "";
  }

  _setMode(mode, label) {
    this.mode = mode;
    this.root.dataset.mode = mode;
    this.modeLabel.textContent = label;
  }

  /** The composer, with the model picker when the agent runs more than one model. */
  /** Tasks as @-mentions: search, a preview on hover, a click opens it in the tasks panel. */
  _entityOptions() {
    return {
      onTagSearch: (query) => searchTaskEntities(this.session, query),
      onRequestPreview: (entity) => taskPreview(this.session, entity),
      onClick: (entity) => {
        if (entity?.data?.type === TASK_ENTITY) this.onOpenTask(entity.id);
      },
    };
  }

  _startFallback() {
    this._setMode("builtin", "Built-in chat (offline mode)");
    this.client = new FallbackChat({
      session: this.session,
      root: this.root,
      apiUrl: this.config.apiUrl,
      onEffect: this.onEffect,
      models: this.models,
      onOpenTask: this.onOpenTask,
    });
    this.client.startChat();
  }

  _startOfficial() {
    this._setMode("chatkit", "");
    const element = document.createElement("openai-chatkit");
    element.classList.add("chatkit-element");
    const session = this.session;
    const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    element.setOptions({
      api: {
        url: this.config.apiUrl,
        domainKey: this.config.domainKey,
        // The bearer token is added here, invisible to ChatKit; 401s renew or end the session
        // (session.fetch), 429s raise a polite page notice.
        fetch: (url, init = {}) => {
          const headers = new Headers(init.headers || {});
          headers.set("X-Time-Zone", timeZone);
          return session.fetch(url, { ...init, headers });
        },
      },
      theme: {
        colorScheme: prefersDark() ? "dark" : "light",
        radius: "round",
        density: "normal",
        color: { accent: { primary: ACCENT, level: 2 } },
        typography: { baseSize: 16 },
      },
      history: { enabled: true, showDelete: true, showRename: true },
      ...startScreenAndComposer(this.config, this.models),
      entities: this._entityOptions(),
      threadItemActions: { feedback: true, retry: true },
    });
    element.addEventListener("chatkit.effect", (event) => {
      const { name, data } = event.detail || {};
      this.onEffect(name, data || {});
    });
    element.addEventListener("chatkit.error", (event) => {
      const error = event.detail?.error;
      const text = String(error?.message || "");
      // session.fetch already handled 401 (sign-in) and 429 (notice); anything else is shown.
      if (/\b401\b|unauthori[sz]ed/i.test(text)) return;
      if (/\b429\b|rate/i.test(text)) {
        this.onNotice("The assistant is busy right now — please wait a moment and try again.");
        return;
      }
      console.warn("ChatKit error", error);
    });
    this.root.replaceChildren(element);
    this.element = element;
  }
}
