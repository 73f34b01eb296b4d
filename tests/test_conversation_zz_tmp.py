from tests.conversation_chat import Chat
async def test_transcript(runtime, worker):
    c = Chat(runtime, "tx")
    for t in ["hi", "create infrastructure for my application", "make it medium", "yes", "My_Shop!", "yes", "status",
              "add another bucket", "plan", "status", "use prod", "drop the bucket", "cancel", "status", "apply", "plan",
              "create a web app for my app blog", "lgtm", "list", "history", "destroy blog-dev", "status", "blog-dev", "outputs"]:
        if t in ("status","lgtm","plan"):
            import asyncio; await asyncio.sleep(1.0)
        print(">>", t); print(await c.say(t)); print()
