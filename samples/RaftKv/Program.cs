using System.Globalization;
using System.Net;
using Aletheia.Wal.Raft;
using DotNext.Net.Cluster;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.Membership;
using RaftKv;

// A replicated key-value store: three nodes, each a process with a DotNext RaftCluster over TCP on 127.0.0.1 whose log
// is an AletheiaPersistentState, and a small HTTP front end.
//   node N (1, 2 or 3): Raft on 127.0.0.1:4000+N, HTTP on 127.0.0.1:8080+N, data in ./raftkv-data/nodeN (or the 2nd argument)
//   PUT /kv/{key} (body: the value)  replicated and applied before 204; a follower answers 307 to the leader
//   GET /kv/{key}                    the value as this node has applied it (404 when absent)
//   GET /status                      role, term, leader, commit and applied indexes
const int Nodes = 3;
if (args.Length is < 1 or > 2 || !int.TryParse(args[0], CultureInfo.InvariantCulture, out int node) || node is < 1 or > Nodes)
{
    Console.Error.WriteLine($"usage: RaftKv <node: 1 to {Nodes}> [data directory]");
    return 2;
}

string directory = args.Length == 2 ? args[1] : Path.Combine("raftkv-data", $"node{node}");
var store = new KeyValueStore();
await using AletheiaPersistentState state = AletheiaPersistentState.Open(
    new AletheiaRaftOptions { Directory = directory, SnapshotThreshold = 10_000 }, store);

var raft = new RaftCluster.TcpConfiguration(new IPEndPoint(IPAddress.Loopback, RaftPort(node)))
{
    LowerElectionTimeout = 300,
    UpperElectionTimeout = 600,
    ConfigurationStorage = null!, // the in-memory storage, filled with the three members below
};
InMemoryClusterConfigurationStorage<EndPoint>.Builder members = ((InMemoryClusterConfigurationStorage<EndPoint>)raft.ConfigurationStorage).CreateInitialConfigurationBuilder();
for (int i = 1; i <= Nodes; i++)
{
    members.Add(new IPEndPoint(IPAddress.Loopback, RaftPort(i)));
}

members.Build();
await using var cluster = new RaftCluster(raft) { AuditTrail = state.AsPersistentState };
await cluster.StartAsync(CancellationToken.None);

WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.UseUrls($"http://127.0.0.1:{HttpPort(node)}");
WebApplication app = builder.Build();

app.MapPut("/kv/{key}", async (string key, HttpRequest request) =>
{
    using var reader = new StreamReader(request.Body);
    string value = await reader.ReadToEndAsync(request.HttpContext.RequestAborted);
    if (cluster.LeadershipToken.IsCancellationRequested)
    {
        return cluster.Leader?.EndPoint is IPEndPoint leader
            ? Results.Redirect($"http://127.0.0.1:{HttpPort(leader.Port - 4000)}/kv/{Uri.EscapeDataString(key)}", permanent: false, preserveMethod: true)
            : Results.Problem("No leader yet: try again shortly.", statusCode: 503);
    }

    var entry = new BinaryLogEntry { Term = state.Term, Content = KeyValueStore.Put(key, value) };
    await cluster.ReplicateAsync(entry, request.HttpContext.RequestAborted);
    return Results.NoContent();
});

app.MapGet("/kv/{key}", (string key) => store.TryGet(key, out string? value) ? Results.Text(value) : Results.NotFound());

app.MapGet("/status", () => Results.Text(
    $"node {node}: {(cluster.LeadershipToken.IsCancellationRequested ? "follower" : "leader")}, term {state.Term}, " +
    $"leader {cluster.Leader?.EndPoint?.ToString() ?? "unknown"}, committed {state.LastCommittedEntryIndex}, applied {state.LastAppliedIndex}, " +
    $"keys {store.Count}, snapshot at {state.SnapshotIndex}\n"));

Console.WriteLine($"node {node}: Raft on 127.0.0.1:{RaftPort(node)}, HTTP on http://127.0.0.1:{HttpPort(node)}, data in {state.Directory}");
await app.RunAsync();
await cluster.StopAsync(CancellationToken.None);
return 0;

static int RaftPort(int node) => 4000 + node;

static int HttpPort(int node) => 8080 + node;
