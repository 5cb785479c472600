using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Paseo.Actors.Hosting;
using Paseo.Actors.Relay;
using Paseo.Actors.Relay.Handshake;
using Paseo.Actors.Sessions;
using Paseo.Host.Tests.Support;
using Paseo.Transport.Channels;
using Paseo.Transport.Crypto;

namespace Paseo.Host.Tests.Sessions;

/// <summary>
/// A client session behind the end-to-end encrypted channel, as a relay data socket will carry it: the phone-side
/// channel, the daemon's RelayConnectionActor and HandshakeFsm, then the same client connection and session actors a
/// direct socket gets. Only the relay socket itself is replaced by the in-memory transport (the relay is issue #5).
/// </summary>
public sealed class RelayedSessionTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private InProcessDaemon _daemon = null!;

    public async Task InitializeAsync() => _daemon = await InProcessDaemon.StartAsync();

    public async Task DisposeAsync() => await _daemon.DisposeAsync();

    private async Task<E2eeClientChannel> ConnectEncryptedAsync()
    {
        var sessions = _daemon.Server.App.Services.GetRequiredService<IRequiredActor<ClientSessionManagerKey>>().ActorRef;
        var (clientEnd, daemonEnd) = InMemoryFrameTransport.CreatePair();
        var keys = _daemon.Server.Identity.KeyPair;
        // The daemon's own client key ledger (its file in the test home), as the relay tunnel uses it.
        var clientKeys = _daemon.Server.App.Services.GetRequiredService<IRequiredActor<ClientKeyLedgerKey>>().ActorRef;
        await sessions.Ask<ClientSessionManager.Connected>(new ClientSessionManager.Connect(connection =>
            RelayConnectionActor.Props(daemonEnd, keys, clientKeys, connection, HandshakeSettings.Default), "relay"), Wait);
        return E2eeClientChannel.Start(clientEnd, Convert.ToBase64String(keys.PublicKey));
    }

    [Fact]
    public async Task Hello_and_agent_requests_work_through_the_encrypted_channel()
    {
        var channel = await ConnectEncryptedAsync();
        await channel.SendTextAsync("{\"type\":\"hello\",\"clientId\":\"cid_phone\",\"clientType\":\"mobile\",\"protocolVersion\":1}");
        await channel.Opened.WaitAsync(Wait);

        var info = await channel.NextAsync(f => ProtocolClient.Payload(f, "status")?["status"]?.GetValue<string>() == "server_info");
        Assert.Equal(_daemon.Server.Identity.ServerId.Value, ProtocolClient.Payload(info, "status")!["serverId"]!.GetValue<string>());

        var cwd = _daemon.TestHome.PathIn("phone-project");
        Directory.CreateDirectory(cwd);
        await channel.SendTextAsync(new JsonObject
        {
            ["type"] = "session",
            ["message"] = new JsonObject
            {
                ["type"] = "create_agent_request", ["requestId"] = "r-phone",
                ["config"] = new JsonObject { ["provider"] = "mock", ["cwd"] = cwd }, ["initialPrompt"] = "from the phone",
            },
        }.ToJsonString());
        var created = await channel.NextAsync(f => ProtocolClient.Payload(f, "status")?["requestId"]?.GetValue<string>() == "r-phone");
        Assert.Equal("agent_created", ProtocolClient.Payload(created, "status")!["status"]!.GetValue<string>());
        WireShapes.Snapshot(ProtocolClient.Payload(created, "status")!["agent"]);

        await channel.SendTextAsync("{\"type\":\"ping\"}");
        Assert.Equal("{\"type\":\"pong\"}", (await channel.NextAsync(f => f["type"]!.GetValue<string>() == "pong")).ToJsonString());
    }

    [Fact]
    public async Task A_file_travels_as_binary_frames_inside_encrypted_messages()
    {
        var channel = await ConnectEncryptedAsync();
        await channel.SendTextAsync("{\"type\":\"hello\",\"clientId\":\"cid_files\",\"clientType\":\"mobile\",\"protocolVersion\":1}");
        await channel.Opened.WaitAsync(Wait);
        await channel.NextAsync(f => ProtocolClient.Payload(f, "status")?["status"]?.GetValue<string>() == "server_info");
        var cwd = _daemon.TestHome.PathIn("phone-files");
        Directory.CreateDirectory(cwd);
        File.WriteAllText(Path.Combine(cwd, "README.md"), "# Shop\n");
        await channel.SendTextAsync(new JsonObject
        {
            ["type"] = "session",
            ["message"] = new JsonObject { ["type"] = "file_explorer_request", ["requestId"] = "7c1d2e3f-4a5b-4c6d-8e7f-90a1b2c3d4e5", ["cwd"] = cwd, ["path"] = "README.md", ["mode"] = "file", ["acceptBinary"] = true },
        }.ToJsonString());
        var begin = await channel.NextBinaryAsync();
        var chunk = await channel.NextBinaryAsync();
        var end = await channel.NextBinaryAsync();
        // The exact bytes of §6.2's vectors (but for modifiedAt): the frames are the plaintexts of the encrypted messages.
        Assert.Equal(Paseo.Transport.Protocol.BinaryFrames.FileBegin, begin[0]);
        Assert.Equal("text/plain", Paseo.Transport.Protocol.BinaryFrames.ReadFile(begin)!.Value.Meta!["mime"]!.GetValue<string>());
        Assert.Equal(Convert.FromHexString("1124" + "37633164326533662d346135622d346336642d386537662d393061316232633364346535" + "232053686f700a"), chunk);
        Assert.Equal(Convert.FromHexString("1224" + "37633164326533662d346135622d346336642d386537662d393061316232633364346535"), end);
    }

    [Fact]
    public async Task An_application_close_reaches_the_phone_through_the_channel()
    {
        var channel = await ConnectEncryptedAsync();
        await channel.SendTextAsync("{\"type\":\"session\",\"message\":{\"type\":\"ping\",\"requestId\":\"early\"}}");

        var closure = await channel.Closed.WaitAsync(Wait);
        Assert.Equal((4002, "Session message before hello"), (closure.Code, closure.Reason));
    }
}
