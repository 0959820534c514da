using DotNext.IO;
using DotNext.Net.Cluster.Consensus.Raft;

namespace Aletheia.Wal.Raft;

/// <summary>
/// An entry handed to a consumer of <see cref="AletheiaPersistentState.ReadAsync{TResult}"/>: reused from read to read,
/// its payload a slice of the read's buffer (copied once, out of the log's reader). Valid until the consumer returns.
/// </summary>
internal sealed class RaftLogEntry : IRaftLogEntry
{
    private ReadOnlyMemory<byte> _payload;

    public long Term { get; private set; }

    public int? CommandId { get; private set; }

    public bool IsConfiguration { get; private set; }

    public bool IsSnapshot { get; private set; }

    public bool IsReusable => true;

    public long? Length => _payload.Length;

    public void Set(long term, int? commandId, bool isConfiguration, bool isSnapshot, ReadOnlyMemory<byte> payload)
    {
        Term = term;
        CommandId = commandId;
        IsConfiguration = isConfiguration;
        IsSnapshot = isSnapshot;
        _payload = payload;
    }

    public bool TryGetMemory(out ReadOnlyMemory<byte> memory)
    {
        memory = _payload;
        return true;
    }

    public ValueTask WriteToAsync<TWriter>(TWriter writer, CancellationToken token)
        where TWriter : IAsyncBinaryWriter => writer.Invoke(_payload, token);
}
