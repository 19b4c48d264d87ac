// Loaded on demand: the editor is most of the UI's weight and the first
// screen does not need it.
import { EditorState } from "@codemirror/state";
import { EditorView, keymap, lineNumbers, highlightActiveLine, drawSelection } from "@codemirror/view";
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
    destroy() {
      view.destroy();
    },
  };
}
