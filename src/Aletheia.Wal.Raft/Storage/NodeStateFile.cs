using System.Buffers.Binary;
using DotNext.Net.Cluster;
using Microsoft.Win32.SafeHandles;

namespace Aletheia.Wal.Raft.Storage;

/// <summary>
/// <c>raft.state</c>: the node's current term, its vote in that term and its commit index, written write-through before
/// the call that changed them returns (native-layout.md, section 7). Two 64-byte copies, at offsets 0 and 512 (separate
/// sectors), each with a sequence number and a CRC-32C; a write goes to the copy not holding the newest state, so a write
/// torn by a crash leaves the other copy intact, and the reader takes the valid copy with the higher sequence.
/// <code>
/// offset size field
///   0     4   magic "ARNS" (0x534E5241 little-endian)
///   4     1   version (1)
///   5     1   1 when a vote is recorded, else 0
///   6     2   reserved, zero
///   8     8   sequence (uint64): 1 for the first write, one more for each
///  16     8   term (int64)
///  24     8   commit index (int64)
///  32    28   the member voted for (DotNext ClusterMemberId, in its own 28-byte format); zero without a vote
///  60     4   CRC-32C of bytes 0..59
/// </code>
/// Not thread-safe: the owner serializes writes.
/// </summary>
internal sealed class NodeStateFile : IDisposable
{
    public const string FileName = "raft.state";
    public const int SlotSize = 64;
    public const int SlotStride = 512;
    private const uint Magic = 0x534E5241;
    private const byte Version = 1;
    private const int VoteOffset = 32;
    private const int VoteSize = 28;

    private readonly FileStream _file;
    private readonly SafeFileHandle _handle;
    private readonly byte[] _slot = new byte[SlotSize];
    private ulong _sequence;

    private NodeStateFile(FileStream file, ulong sequence, long term, long commitIndex, ClusterMemberId? vote)
    {
        _file = file;
        _handle = file.SafeFileHandle;
        _sequence = sequence;
        Term = term;
        CommitIndex = commitIndex;
        Vote = vote;
    }

    public long Term { get; private set; }

    public long CommitIndex { get; private set; }

    public ClusterMemberId? Vote { get; private set; }

    public string Path => _file.Name;

    /// <summary>
    /// Opens the state file in <paramref name="directory"/>, creating it (and fsyncing the directory) if missing; a file
    /// created, or found blank, gets its first copy written at once (term 0, no vote, commit 0), so that a file without a
    /// valid copy later means a lost state, never a new one.
    /// </summary>
    /// <param name="directory">The node's directory.</param>
    /// <param name="createMode">The Unix mode of a file created.</param>
    /// <param name="history">What the node's log already holds, in words ("entries up to index 7"); null when it holds nothing.</param>
    /// <exception cref="InvalidDataException">Both copies are damaged and not blank; or the file is missing or blank while
    /// <paramref name="history"/> says the node has a past (its term and vote are lost).</exception>
    public static NodeStateFile Open(string directory, UnixFileMode createMode, string? history = null)
    {
        if (ClusterMemberId.Size != VoteSize)
        {
            throw new NotSupportedException($"raft.state keeps a vote in {VoteSize} bytes; this DotNext formats a ClusterMemberId in {ClusterMemberId.Size}.");
        }

        string path = System.IO.Path.Combine(directory, FileName);
        bool existed = File.Exists(path);
        if (!existed && history is not null)
        {
            throw Lost(path, "is missing", history);
        }

        var options = new FileStreamOptions
        {
            Mode = FileMode.OpenOrCreate,
            Access = FileAccess.ReadWrite,
            Share = FileShare.None,
            Options = FileOptions.WriteThrough,
        };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = createMode;
        }

        var file = new FileStream(path, options);
        try
        {
            if (!existed)
            {
                WriteAheadLog.SyncDirectory(directory);
            }

            Span<byte> a = stackalloc byte[SlotSize];
            Span<byte> b = stackalloc byte[SlotSize];
            int readA = RandomAccess.Read(file.SafeFileHandle, a, 0);
            int readB = RandomAccess.Read(file.SafeFileHandle, b, SlotStride);
            bool validA = readA == SlotSize && IsValid(a);
            bool validB = readB == SlotSize && IsValid(b);
            if (!validA && !validB)
            {
                if (IsBlank(a[..readA]) && IsBlank(b[..readB]))
                {
                    if (history is not null)
                    {
                        throw Lost(path, "has no state written (it is empty or zeroed)", history);
                    }

                    // Never written: a creation that stopped before its first write returned. Nothing was acknowledged.
                    var created = new NodeStateFile(file, 0, 0, 0, null);
                    created.Write(0, null, 0);
                    return created;
                }

                throw new InvalidDataException($"'{path}' is damaged: neither of its two copies (offsets 0 and {SlotStride}) has a valid checksum.");
            }

            ReadOnlySpan<byte> newest = validA && (!validB || Sequence(a) > Sequence(b)) ? a : b;
            ClusterMemberId? vote = newest[5] != 0 ? new ClusterMemberId(newest.Slice(VoteOffset, VoteSize)) : null;
            return new NodeStateFile(
                file, Sequence(newest), BinaryPrimitives.ReadInt64LittleEndian(newest[16..]), BinaryPrimitives.ReadInt64LittleEndian(newest[24..]), vote);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Writes the state, write-through: on return it is on disk.</summary>
    public void Write(long term, ClusterMemberId? vote, long commitIndex)
    {
        ulong sequence = _sequence + 1;
        Span<byte> slot = _slot;
        slot.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(slot, Magic);
        slot[4] = Version;
        slot[5] = vote.HasValue ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt64LittleEndian(slot[8..], sequence);
        BinaryPrimitives.WriteInt64LittleEndian(slot[16..], term);
        BinaryPrimitives.WriteInt64LittleEndian(slot[24..], commitIndex);
        if (vote.HasValue)
        {
            vote.GetValueOrDefault().Format(slot.Slice(VoteOffset, VoteSize));
        }

        BinaryPrimitives.WriteUInt32LittleEndian(slot[60..], Checksum.Crc32C(slot[..60]));

        // Odd sequences in copy A, even in copy B: the copy holding the newest state is never the one overwritten.
        RandomAccess.Write(_handle, slot, (sequence & 1) == 1 ? 0 : SlotStride);
        _sequence = sequence;
        Term = term;
        Vote = vote;
        CommitIndex = commitIndex;
    }

    public void Dispose() => _file.Dispose();

    private static InvalidDataException Lost(string path, string what, string history) =>
        new($"'{path}' {what}, but this node's log holds {history}: the node's term and vote are lost, and starting again at " +
            "term 0 with no vote could let it vote twice in one term. Restore raft.state together with the log it was " +
            "taken with, or remove the node's directory and add the node back to the cluster as a new member.");

    private static ulong Sequence(ReadOnlySpan<byte> slot) => BinaryPrimitives.ReadUInt64LittleEndian(slot[8..]);

    private static bool IsValid(ReadOnlySpan<byte> slot) =>
        BinaryPrimitives.ReadUInt32LittleEndian(slot) == Magic
        && slot[4] == Version
        && BinaryPrimitives.ReadUInt32LittleEndian(slot[60..]) == Checksum.Crc32C(slot[..60]);

    private static bool IsBlank(ReadOnlySpan<byte> bytes) => !bytes.ContainsAnyExcept((byte)0);
}
