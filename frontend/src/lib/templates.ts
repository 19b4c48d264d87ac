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
# you give the repository's webhook; paste the route's URL into GitHub as
# it is. The route passes the event's name (X-GitHub-Event) as
# x_github_event; "Send a signed test request" sends a push.
def main(ref: str = "", repository: dict = None, pusher: dict = None, x_github_event: str = "push"):
    repo = (repository or {}).get("full_name", "?")
    who = (pusher or {}).get("name", "someone")
    print(f"{x_github_event}: {who} pushed {ref} to {repo}")
    return {"ok": True, "repo": repo, "ref": ref}
`,
  },
  {
    id: "slack-bot",
    label: "Slack: post as your bot (token in a variable)",
    language: "python3",
    content: `# Posts a message to a Slack channel as your bot. The bot token (xoxb-...)
# lives in a secret variable, never in the script: add it on the Variables
# page at the path below. Run it from a schedule, a route or Run; with
# dry_run it only checks that the token can be read.
import json, os, urllib.error, urllib.request

TOKEN_VARIABLE = "u/me/slack_bot_token"


def get_variable(path):
    # What wmill.get_variable(path) does, without installing the wmill package.
    url = f"{os.environ['BASE_INTERNAL_URL']}/api/w/{os.environ['WM_WORKSPACE']}/variables/get_value/{path}"
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + os.environ["WM_TOKEN"]})
    try:
        return json.load(urllib.request.urlopen(req))
    except urllib.error.HTTPError as e:
        if e.code == 404:
            raise LookupError(f"no variable {path}: add your bot token on the Variables page (as a secret)") from None
        raise


def main(channel: str = "#general", text: str = "hello from millrun", dry_run: bool = False):
    token = get_variable(TOKEN_VARIABLE)
    if dry_run:
        return {"would_post_to": channel, "token_ends_with": token[-4:]}
    req = urllib.request.Request(
        "https://slack.com/api/chat.postMessage",
        data=json.dumps({"channel": channel, "text": text}).encode(),
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json; charset=utf-8"},
    )
    answer = json.load(urllib.request.urlopen(req))
    if not answer.get("ok"):
        raise RuntimeError(f"Slack refused the message: {answer.get('error')}")
    return {"posted_to": channel, "ts": answer.get("ts")}
`,
  },
];
