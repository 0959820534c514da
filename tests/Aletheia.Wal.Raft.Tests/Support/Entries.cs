using System.Text;
using DotNext.IO;
using DotNext.IO.Log;
using DotNext.Net.Cluster.Consensus.Raft;
using Xunit;

namespace Aletheia.Wal.Raft.Tests.Support;

/// <summary>Entries to append, and a consumer that reads entries back as owned copies.</summary>
internal static class Entries
{
    public static BinaryLogEntry Of(long term, string text, int? commandId = null) =>
        new() { Term = term, Content = Encoding.UTF8.GetBytes(text), CommandId = commandId };

    public static ILogEntryProducer<BinaryLogEntry> Producer(params BinaryLogEntry[] entries) => new LogEntryProducer<BinaryLogEntry>(entries);

    /// <summary>An entry that only streams its bytes (as one received over the network does): no TryGetMemory.</summary>
    public static TestEntry Streamed(long term, string text) => new(term, Encoding.UTF8.GetBytes(text), lendsBytes: false);

    public static ILogEntryProducer<TestEntry> Producer(params TestEntry[] entries) => new LogEntryProducer<TestEntry>(entries);

    /// <summary>A snapshot entry as a leader sends it (streamed, as one received over the network is).</summary>
    public static TestEntry Snapshot(long term, byte[] payload) => new(term, payload, lendsBytes: false, isSnapshot: true);

    /// <summary>The snapshot of a state machine that applied <paramref name="texts"/> (term 1) at indexes 1, 2, ...</summary>
    public static byte[] SnapshotOf(params string[] texts)
    {
        var machine = new RecordingStateMachine();
        for (int i = 0; i < texts.Length; i++)
        {
            machine.Apply(new ReplicatedCommand(i + 1, 1, null, false, System.Text.Encoding.UTF8.GetBytes(texts[i])));
        }

        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        machine.WriteSnapshot(buffer);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>A cluster configuration entry, lending its bytes.</summary>
    public static TestEntry Configuration(long term, byte[] payload) => new(term, payload, lendsBytes: true, isConfiguration: true);

    /// <summary>Opens a node's state in <paramref name="directory"/>, puts entries of term 1 with <paramref name="texts"/> at 1, 2, ... (uncommitted), and closes it.</summary>
    public static async Task AppendAndCloseAsync(string directory, params string[] texts)
    {
        await using AletheiaPersistentState state = AletheiaPersistentState.Open(new AletheiaRaftOptions { Directory = directory }, new RecordingStateMachine());
        await state.AsPersistentState.AppendAsync(Producer(texts.Select(text => Of(1, text)).ToArray()), 1);
    }

    public static ValueTask<ReadResult> ReadAsync(IPersistentState state, long start, long end, bool metadataOnly = false) =>
        state.ReadAsync(new Reader(metadataOnly), start, end);

    internal sealed record ReadResult(long? SnapshotIndex, IReadOnlyList<(long Term, string Text, bool IsSnapshot, int? CommandId)> Entries);

    private sealed class Reader(bool metadataOnly) : ILogEntryConsumer<IRaftLogEntry, ReadResult>
    {
        public bool LogEntryMetadataOnly => metadataOnly;

        public ValueTask<ReadResult> ReadAsync<TEntry, TList>(TList entries, long? snapshotIndex, CancellationToken token)
            where TEntry : IRaftLogEntry
            where TList : IReadOnlyList<TEntry>
        {
            var read = new List<(long, string, bool, int?)>();
            foreach (TEntry entry in entries)
            {
                Assert.True(entry.TryGetMemory(out ReadOnlyMemory<byte> memory), "Entries read from the log lend their bytes.");
                Assert.Equal(memory.Length, entry.Length);
                read.Add((entry.Term, Encoding.UTF8.GetString(memory.Span), entry.IsSnapshot, entry.CommandId));
            }

            return new ValueTask<ReadResult>(new ReadResult(snapshotIndex, read));
        }
    }

    /// <summary>
    /// An entry for the tests: lends its bytes (TryGetMemory) or only streams them, as one received over the network does;
    /// a plain command, a configuration entry or a snapshot.
    /// </summary>
    internal sealed class TestEntry(long term, byte[] payload, bool lendsBytes, bool isSnapshot = false, bool isConfiguration = false) : IRaftLogEntry
    {
        public long Term => term;

        public bool IsSnapshot => isSnapshot;

        public bool IsConfiguration => isConfiguration;

        public bool IsReusable => true;

        public long? Length => payload.Length;

        public bool TryGetMemory(out ReadOnlyMemory<byte> memory)
        {
            memory = lendsBytes ? payload : default;
            return lendsBytes;
        }

        public ValueTask WriteToAsync<TWriter>(TWriter writer, CancellationToken token)
            where TWriter : IAsyncBinaryWriter => writer.Invoke(payload, token);
    }

    /// <summary>A configuration storage that records what is saved in it, as RaftCluster's would take it.</summary>
    internal sealed class RecordingConfigurationStorage : DotNext.Net.Cluster.Consensus.Raft.Membership.IClusterConfigurationStorage
    {
        public List<(long Version, byte[] Configuration)> Saved { get; } = [];

        public async ValueTask<bool> SaveConfigurationAsync<TConfiguration>(TConfiguration configuration, long configurationVersion, CancellationToken token)
            where TConfiguration : IDataTransferObject
        {
            byte[] bytes = await configuration.ToByteArrayAsync(token: token);
            lock (Saved)
            {
                Saved.Add((configurationVersion, bytes));
            }

            return true;
        }

        public ValueTask<(IDataTransferObject Configuration, long Version)> LoadConfigurationAsync(CancellationToken token) =>
            throw new NotSupportedException("The tests only record saved configurations.");

        public void Dispose()
        {
        }
    }
}
