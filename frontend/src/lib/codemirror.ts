// Loaded on demand: the editor is most of the UI's weight and the first
// screen does not need it.
import { EditorState, StateEffect, StateField } from "@codemirror/state";
import { EditorView, keymap, lineNumbers, highlightActiveLine, drawSelection, Decoration, WidgetType, type DecorationSet } from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { StreamLanguage, HighlightStyle, syntaxHighlighting, bracketMatching, indentOnInput } from "@codemirror/language";
import { tags as t } from "@lezer/highlight";
import { python } from "@codemirror/lang-python";
import { javascript } from "@codemirror/lang-javascript";
import { shell } from "@codemirror/legacy-modes/mode/shell";

// Colours come from CSS variables, so code stays readable in the OS's dark
// mode as well as in light mode (CodeMirror's default style is light only).
const highlight = HighlightStyle.define([
  { tag: [t.keyword, t.controlKeyword, t.operatorKeyword, t.definitionKeyword, t.moduleKeyword], color: "var(--hl-keyword)" },
  { tag: [t.string, t.special(t.string), t.regexp], color: "var(--hl-string)" },
  { tag: [t.number, t.bool, t.null, t.atom], color: "var(--hl-number)" },
  { tag: [t.comment, t.lineComment, t.blockComment], color: "var(--hl-comment)", fontStyle: "italic" },
  { tag: [t.function(t.variableName), t.function(t.definition(t.variableName)), t.definition(t.variableName)], color: "var(--hl-name)" },
  { tag: [t.typeName, t.className, t.namespace], color: "var(--hl-type)" },
  { tag: t.invalid, color: "var(--danger)" },
]);

/** A problem found in the text, shown at its line (1-based). */
export interface Problem {
  line: number;
  message: string;
}

const setProblem = StateEffect.define<Problem | null>();

class ProblemWidget extends WidgetType {
  constructor(readonly message: string) {
    super();
  }
  eq(other: ProblemWidget) {
    return other.message === this.message;
  }
  toDOM() {
    const el = document.createElement("div");
    el.className = "cm-problem";
    el.dataset.testid = "syntax-error-at-line";
    el.textContent = this.message; // the interpreter's words, never HTML
    return el;
  }
}

// The message sits under its line. It describes the text as it was
// checked, so the first edit takes it away.
const problemField = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(marks, tr) {
    for (const e of tr.effects) {
      if (!e.is(setProblem)) continue;
      if (!e.value) return Decoration.none;
      const line = tr.state.doc.line(Math.min(Math.max(e.value.line, 1), tr.state.doc.lines));
      return Decoration.set([
        Decoration.line({ class: "cm-problem-line" }).range(line.from),
        Decoration.widget({ widget: new ProblemWidget(e.value.message), block: true, side: 1 }).range(line.to),
      ]);
    }
    return tr.docChanged ? Decoration.none : marks;
  },
  provide: (f) => EditorView.decorations.from(f),
});

function languageFor(lang: string) {
  if (lang === "python3") return python();
  if (lang === "bash") return StreamLanguage.define(shell);
  return javascript({ typescript: true });
}

export function createEditor(parent: HTMLElement, doc: string, lang: string, onChange: (text: string) => void, onSave: () => void, label = "Script code", hintId = "") {
  const theme = EditorView.theme({
    "&": { height: "100%", fontSize: "13px", backgroundColor: "var(--panel)", color: "var(--text)" },
    ".cm-scroller": { fontFamily: "ui-monospace, Menlo, Consolas, monospace" },
    ".cm-gutters": { backgroundColor: "var(--code)", color: "var(--muted)", borderRight: "1px solid var(--border)" },
    ".cm-activeLine": { backgroundColor: "color-mix(in srgb, var(--code) 60%, transparent)" },
    // The browser's focus ring is drawn around the whole editor, so a
    // keyboard user sees where focus is.
    "&.cm-focused": { outline: "2px solid var(--focus, #2563eb)", outlineOffset: "-2px" },
    ".cm-problem-line": { backgroundColor: "color-mix(in srgb, var(--danger) 14%, transparent)" },
    ".cm-problem": { color: "var(--danger)", borderLeft: "3px solid var(--danger)", padding: "2px 8px", margin: "2px 0",
      fontFamily: "system-ui, sans-serif", fontSize: "12.5px", whiteSpace: "pre-wrap",
      backgroundColor: "color-mix(in srgb, var(--danger) 8%, var(--panel))" },
  });
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc,
      extensions: [
        lineNumbers(),
        history(),
        drawSelection(),
        indentOnInput(),
        bracketMatching(),
        highlightActiveLine(),
        syntaxHighlighting(highlight),
        languageFor(lang),
        problemField,
        theme,
        EditorView.contentAttributes.of(hintId ? { "aria-label": label, "aria-describedby": hintId } : { "aria-label": label }),
        keymap.of([{ key: "Mod-s", preventDefault: true, run: () => (onSave(), true) }, indentWithTab, ...defaultKeymap, ...historyKeymap]),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) onChange(u.state.doc.toString());
        }),
      ],
    }),
  });
  return {
    set(text: string) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    },
    /** Shows a problem at its line and brings the line into view; null clears it. */
    problem(p: Problem | null) {
      const effects: StateEffect<unknown>[] = [setProblem.of(p)];
      if (p) effects.push(EditorView.scrollIntoView(view.state.doc.line(Math.min(Math.max(p.line, 1), view.state.doc.lines)).from, { y: "center" }));
      view.dispatch({ effects });
    },
    /** Puts the cursor at the start of a line (1-based) and brings it into view. */
    goto(line: number) {
      const at = view.state.doc.line(Math.min(Math.max(line, 1), view.state.doc.lines)).from;
      view.dispatch({ selection: { anchor: at }, effects: EditorView.scrollIntoView(at, { y: "center" }) });
    },
    destroy() {
      view.destroy();
    },
  };
}
