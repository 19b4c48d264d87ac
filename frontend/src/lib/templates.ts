// Starter scripts for "New script".
export interface Template {
  id: string;
  label: string;
  language: "python3" | "bun" | "bash";
  content: string;
}

export const templates: Template[] = [
  {
    id: "hello-python",
    label: "Hello world (Python)",
    language: "python3",
    content: `def main(name: str = "world"):
    print(f"saying hello to {name}")
    return {"greeting": f"hello {name}"}
`,
  },
  {
    id: "hello-ts",
    label: "Hello world (TypeScript)",
    language: "bun",
    content: `export async function main(name: string = "world") {
  console.log(\`saying hello to \${name}\`);
  return { greeting: \`hello \${name}\` };
}
`,
  },
  {
    id: "hello-bash",
    label: "Hello world (Bash)",
    language: "bash",
    content: `name="\${1:-world}"
echo "saying hello to $name"
echo "hello $name"
`,
  },
  {
    id: "slack",
    label: "Slack slash command",
    language: "python3",
    content: `# Slack posts slash commands as a form: command, text, user_name, ...
# Save, then under Routes add one with "Slack signature" and your app's
# signing secret, and paste its URL as the command's Request URL: millrun
# checks Slack's signature, so no token goes into Slack.
def main(command: str = "", text: str = "", user_name: str = ""):
    return {
        "response_type": "ephemeral",
        "text": f"{user_name} ran {command} {text}: on it!",
    }
`,
  },
  {
    id: "discord",
    label: "Discord interaction",
    language: "python3",
    content: `# Discord sends interactions as JSON. Type 1 is Discord's PING check;
# answer type 4 to reply in the channel. Save, then under Routes add one
# with "Discord signature" and your application's public key, and paste its
# URL as the Interactions Endpoint URL: millrun answers the PING and checks
# every signature, as Discord requires.
def main(type: int = 1, data: dict = None, member: dict = None):
    if type == 1:
        return {"type": 1}
    name = (data or {}).get("name", "command")
    return {"type": 4, "data": {"content": f"ran /{name}"}}
`,
  },
  {
    id: "github",
    label: "GitHub push",
    language: "python3",
    content: `# Save, then under Routes add one with "GitHub signature" and the secret
# you give the repository's webhook. Add ?include_header=X-GitHub-Event to
# the URL you paste into GitHub to get the event name.
def main(ref: str = "", repository: dict = None, pusher: dict = None, x_github_event: str = "push"):
    repo = (repository or {}).get("full_name", "?")
    who = (pusher or {}).get("name", "someone")
    print(f"{x_github_event}: {who} pushed {ref} to {repo}")
    return {"ok": True, "repo": repo, "ref": ref}
`,
  },
];
