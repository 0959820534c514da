using System.IO.Enumeration;
using Aletheia.Wal.Storage;

namespace Aletheia.Wal.Inspection;

/// <summary>
/// A storage that reads the real files and changes none: what recovery creates, writes, renames and deletes is kept in
/// memory and read back from there, so that the real recovery code runs over it exactly as at open (the same reads,
/// the same decisions) and the disk is left as it was. Afterwards <see cref="Changes"/> says what recovery at open would
/// have done to each file, byte for byte: what <c>WalInspection</c> reports, and what a repair saves before it lets the
/// real recovery run.
/// </summary>
/// <remarks>
/// Memory: a write of zeros is kept as a range, not as bytes (recovery zeroes up to a whole segment after corruption);
/// other writes are copied (recovery rewrites at most the last batch and <c>wal.head</c>). Reads count their bytes
/// (<see cref="BytesRead"/>, reported to the progress sink) and observe the cancellation token.
/// </remarks>
internal sealed class DryRunStorage : WalStorage
{
    private readonly WalStorage _disk;
    private readonly IProgress<long>? _progress;
    private readonly CancellationToken _cancellation;

    // The files the dry run touched, by path: null where none stands now (deleted, or renamed away). A path not in the
    // map is read from the disk as it is.
    private readonly Dictionary<string, Node?> _nodes = new(StringComparer.Ordinal);

    // The disk's files the dry run touched (wrote, renamed or deleted), with their length: each one's fate is in Changes.
    private readonly Dictionary<string, long> _touched = new(StringComparer.Ordinal);

    public DryRunStorage(WalStorage disk, IProgress<long>? progress, CancellationToken cancellation)
    {
        _disk = disk;
        _progress = progress;
        _cancellation = cancellation;
    }

    public override bool IsDryRun => true;

    /// <summary>Bytes read from files so far, through this storage.</summary>
    public long BytesRead { get; private set; }

    public override WalFile OpenRead(string path) =>
        _nodes.TryGetValue(path, out Node? node) ? new NodeFile(this, path, node ?? throw Missing(path)) : new CountingFile(this, _disk.OpenRead(path));

    public override WalFile OpenWrite(string path, bool writeThrough) => new NodeFile(this, path, NodeOf(path) ?? throw Missing(path));

    public override WalFile CreateNew(string path, bool writeThrough)
    {
        if (NodeOf(path) is not null)
        {
            throw new IOException($"The file '{path}' already exists.");
        }

        var node = new Node(source: null, sourceLength: 0);
        _nodes[path] = node;
        return new NodeFile(this, path, node);
    }

    public override void Delete(string path)
    {
        if (NodeOf(path) is not null)
        {
            _nodes[path] = null; // as File.Delete, deleting a missing file is no error
        }
    }

    public override void Move(string from, string to)
    {
        Node node = NodeOf(from) ?? throw Missing(from);
        if (NodeOf(to) is not null)
        {
            throw new IOException($"Cannot rename '{from}' to '{to}': the target exists.");
        }

        _nodes[to] = node;
        _nodes[from] = null;
    }

    public override void SyncDirectory(string directory)
    {
    }

    public override string[] ListFiles(string directory, string searchPattern)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (string name in _disk.ListFiles(directory, searchPattern))
        {
            if (!_nodes.TryGetValue(Path.Combine(directory, name), out Node? node) || node is not null)
            {
                names.Add(name);
            }
        }

        // Directory.GetFiles matches with Win32 semantics (EnumerationOptions.Compatible): so do the names made here.
        string expression = FileSystemName.TranslateWin32Expression(searchPattern);
        foreach ((string path, Node? node) in _nodes)
        {
            if (node is not null && string.Equals(Path.GetDirectoryName(path), Path.TrimEndingDirectorySeparator(directory), StringComparison.Ordinal)
                && FileSystemName.MatchesWin32Expression(expression, Path.GetFileName(path)))
            {
                names.Add(Path.GetFileName(path));
            }
        }

        return [.. names];
    }

    /// <summary>
    /// What the dry run did to each file of the disk it touched, in path order: deleted, renamed, or rewritten from the
    /// first byte that differs (a rewrite of the same bytes is no change), and the files it created.
    /// </summary>
    public List<FileFate> Changes()
    {
        var fates = new List<FileFate>();
        foreach ((string path, long length) in _touched.OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            (string? now, Node? node) = _nodes.Where(n => n.Value?.Source == path).Select(n => ((string?)n.Key, n.Value)).FirstOrDefault();
            if (node is null)
            {
                fates.Add(new FileFate(path, FileFateKind.Deleted, 0, length, null, length));
                continue;
            }

            if (now != path)
            {
                fates.Add(new FileFate(path, FileFateKind.Renamed, 0, length, now, 0));
            }

            (long first, long end) = Changed(path, node);
            if (first >= 0)
            {
                fates.Add(new FileFate(path, FileFateKind.Rewritten, first, length, now != path ? now : null, Math.Max(end, first)));
            }
        }

        foreach ((string path, Node? node) in _nodes.OrderBy(n => n.Key, StringComparer.Ordinal))
        {
            if (node is { Source: null })
            {
                fates.Add(new FileFate(path, FileFateKind.Created, 0, 0, null, 0));
            }
        }

        return fates;
    }

    /// <summary>The content <paramref name="path"/> has in the dry run (tests and the repair's check): its bytes as recovery left them.</summary>
    public byte[]? ReadBack(string path, long offset, int count)
    {
        if (NodeOf(path) is not { } node)
        {
            return null;
        }

        using var file = new NodeFile(this, path, node);
        byte[] bytes = new byte[(int)Math.Max(0, Math.Min(count, node.Length - offset))];
        file.Read(bytes, offset);
        return bytes;
    }

    /// <summary>The file at <paramref name="path"/> now: its node (made from the disk's file at first touch), null when there is none.</summary>
    private Node? NodeOf(string path)
    {
        if (_nodes.TryGetValue(path, out Node? node))
        {
            return node;
        }

        WalFile file;
        try
        {
            file = _disk.OpenRead(path);
        }
        catch (FileNotFoundException)
        {
            return null;
        }

        using (file)
        {
            node = new Node(path, file.Length);
        }

        _nodes[path] = node;
        _touched[path] = node.SourceLength;
        return node;
    }

    /// <summary>
    /// The bytes of <paramref name="node"/> that differ from the disk's: from the first that differs to the last (the end
    /// is exclusive; a file whose length changes differs to the end of its bytes on disk); (-1, -1) if none do.
    /// </summary>
    private (long First, long End) Changed(string path, Node node)
    {
        bool resized = node.Length != node.SourceLength;
        long first = resized ? Math.Min(node.Length, node.SourceLength) : -1;
        long end = resized ? node.SourceLength : -1;
        if (node.Extents.Count == 0)
        {
            return (first, end);
        }

        using WalFile disk = _disk.OpenRead(path);
        using var now = new NodeFile(this, path, node);
        byte[] before = new byte[1 << 20];
        byte[] after = new byte[1 << 20];
        foreach (Extent extent in node.Extents.OrderBy(e => e.Offset))
        {
            long extentEnd = Math.Min(extent.Offset + extent.Length, node.SourceLength);
            for (long offset = extent.Offset; offset < extentEnd; offset += before.Length)
            {
                int count = (int)Math.Min(before.Length, extentEnd - offset);
                disk.Read(before.AsSpan(0, count), offset);
                now.Read(after.AsSpan(0, count), offset);
                int at = before.AsSpan(0, count).CommonPrefixLength(after.AsSpan(0, count));
                if (at == count)
                {
                    continue;
                }

                int last = count - 1;
                while (before[last] == after[last])
                {
                    last--;
                }

                first = first < 0 ? offset + at : Math.Min(first, offset + at);
                end = Math.Max(end, offset + last + 1);
            }
        }

        return (first, end);
    }

    private void Counted(int bytes)
    {
        BytesRead += bytes;
        _progress?.Report(BytesRead);
    }

    private static FileNotFoundException Missing(string path) => new($"Could not find file '{path}'.", path);

    /// <summary>A file as the dry run has it: the disk's bytes it started from (none if created), and the writes made since, in order.</summary>
    private sealed class Node(string? source, long sourceLength)
    {
        public string? Source { get; } = source;

        public long SourceLength { get; } = sourceLength;

        public long Length { get; set; } = sourceLength;

        public List<Extent> Extents { get; } = [];
    }

    /// <summary>One write: <see cref="Data"/> null for zeros.</summary>
    private readonly record struct Extent(long Offset, long Length, byte[]? Data);

    private sealed class NodeFile(DryRunStorage owner, string path, Node node) : WalFile
    {
        private WalFile? _source;

        public override string Path => path;

        public override long Length => node.Length;

        public override void Write(ReadOnlySpan<byte> data, long offset)
        {
            node.Extents.Add(new Extent(offset, data.Length, data.ContainsAnyExcept((byte)0) ? data.ToArray() : null));
            node.Length = Math.Max(node.Length, offset + data.Length);
        }

        public override int Read(Span<byte> destination, long offset)
        {
            owner._cancellation.ThrowIfCancellationRequested();
            int count = (int)Math.Clamp(node.Length - offset, 0, destination.Length);
            Span<byte> bytes = destination[..count];
            int fromSource = node.Source is null ? 0 : (int)Math.Clamp(node.SourceLength - offset, 0, count);
            if (fromSource > 0)
            {
                _source ??= owner._disk.OpenRead(node.Source!);
                int read = _source.Read(bytes[..fromSource], offset);
                bytes[read..fromSource].Clear(); // the disk's file shrank meanwhile (not ours to change): zeros, as a hole
            }

            bytes[fromSource..].Clear();
            foreach (Extent extent in node.Extents)
            {
                long from = Math.Max(offset, extent.Offset);
                long to = Math.Min(offset + count, extent.Offset + extent.Length);
                if (from >= to)
                {
                    continue;
                }

                Span<byte> target = bytes.Slice((int)(from - offset), (int)(to - from));
                if (extent.Data is null)
                {
                    target.Clear();
                }
                else
                {
                    extent.Data.AsSpan((int)(from - extent.Offset), target.Length).CopyTo(target);
                }
            }

            owner.Counted(count);
            return count;
        }

        public override void Sync()
        {
        }

        public override void Dispose() => _source?.Dispose();
    }

    /// <summary>A disk file the dry run only reads: its reads are counted and can be cancelled.</summary>
    private sealed class CountingFile(DryRunStorage owner, WalFile file) : WalFile
    {
        public override string Path => file.Path;

        public override long Length => file.Length;

        public override void Write(ReadOnlySpan<byte> data, long offset) => throw new InvalidOperationException("A file opened for reading is written.");

        public override int Read(Span<byte> destination, long offset)
        {
            owner._cancellation.ThrowIfCancellationRequested();
            int read = file.Read(destination, offset);
            owner.Counted(read);
            return read;
        }

        public override void Sync()
        {
        }

        public override void Dispose() => file.Dispose();
    }
}

/// <summary>What a dry run did to one file.</summary>
internal enum FileFateKind
{
    /// <summary>The file is gone.</summary>
    Deleted,

    /// <summary>The file has a new name (<see cref="FileFate.NewPath"/>); its bytes are unchanged unless a rewrite follows.</summary>
    Renamed,

    /// <summary>Bytes from <see cref="FileFate.Offset"/> on differ (or the file's length does).</summary>
    Rewritten,

    /// <summary>A file that was not there.</summary>
    Created,
}

/// <summary>One file's fate in a dry run.</summary>
/// <param name="Path">The file, by the name it had on disk (for <see cref="FileFateKind.Created"/>, its new name).</param>
/// <param name="Kind">What happened to it.</param>
/// <param name="Offset">The first byte that differs (<see cref="FileFateKind.Rewritten"/>).</param>
/// <param name="Length">The file's length on disk before.</param>
/// <param name="NewPath">The name it has after a rename, if it was renamed.</param>
/// <param name="End">
/// After the last byte of the disk's that differs (<see cref="FileFateKind.Rewritten"/>: bytes of the file on disk from
/// here on are kept as they are; its length when the length changes), or its length (<see cref="FileFateKind.Deleted"/>).
/// </param>
internal readonly record struct FileFate(string Path, FileFateKind Kind, long Offset, long Length, string? NewPath, long End);
