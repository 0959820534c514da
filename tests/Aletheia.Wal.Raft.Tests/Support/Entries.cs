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
    public static StreamedEntry Streamed(long term, string text) => new(term, Encoding.UTF8.GetBytes(text));

    public static ILogEntryProducer<StreamedEntry> Producer(params StreamedEntry[] entries) => new LogEntryProducer<StreamedEntry>(entries);

    /// <summary>A snapshot entry as a leader sends it.</summary>
    public static SnapshotEntry Snapshot(long term, byte[] payload) => new(term, payload);

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

    internal sealed class StreamedEntry(long term, byte[] payload) : IRaftLogEntry
    {
        public long Term => term;

        public bool IsReusable => true;

        public long? Length => payload.Length;

        public bool TryGetMemory(out ReadOnlyMemory<byte> memory)
        {
            memory = default;
            return false;
        }

        public ValueTask WriteToAsync<TWriter>(TWriter writer, CancellationToken token)
            where TWriter : IAsyncBinaryWriter => writer.Invoke(payload, token);
    }

    /// <summary>A cluster configuration entry (IsConfiguration), lending its bytes.</summary>
    internal sealed class ConfigurationEntry(long term, byte[] payload) : IRaftLogEntry
    {
        public long Term => term;

        public bool IsConfiguration => true;

        public bool IsReusable => true;

        public long? Length => payload.Length;

        public bool TryGetMemory(out ReadOnlyMemory<byte> memory)
        {
            memory = payload;
            return true;
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

    internal sealed class SnapshotEntry(long term, byte[] payload) : IRaftLogEntry
    {
        public long Term => term;

        public bool IsSnapshot => true;

        public bool IsReusable => true;

        public long? Length => payload.Length;

        public bool TryGetMemory(out ReadOnlyMemory<byte> memory)
        {
            memory = default;
            return false; // streamed, as a snapshot received over the network is
        }

        public ValueTask WriteToAsync<TWriter>(TWriter writer, CancellationToken token)
            where TWriter : IAsyncBinaryWriter => writer.Invoke(payload, token);
    }
}
