using System.Reflection;
using System.Reflection.Emit;
using DotNext.Net.Cluster.Consensus.Raft;

namespace Aletheia.Wal.Raft;

/// <summary>
/// Makes, once per process, the concrete type of <see cref="AletheiaPersistentState"/>: a sealed subclass that declares
/// <see cref="IPersistentState"/>.
/// </summary>
/// <remarks>
/// Why a type made at run time: DotNext 6.x declares <c>IPersistentState.ConfigurationStorage</c> with an
/// <c>internal set</c> accessor, which the C# compiler does not let a type outside DotNext implement (CS9044), although
/// <c>RaftCluster</c> sets it on whatever log it is given. The runtime itself allows it to an assembly that carries
/// <c>IgnoresAccessChecksToAttribute</c> for DotNext (as <see cref="DispatchProxy"/>'s generated assemblies do): this
/// type lives in such an assembly, declares the interface, and every member of it is implemented by the public virtual
/// members <see cref="AletheiaPersistentState"/> already has (its setter too). No call goes through reflection: the
/// subclass adds nothing but the interface.
/// </remarks>
internal static class PersistentStateType
{
    private static readonly Lazy<Func<AletheiaPersistentState.Parts, AletheiaPersistentState>> s_factory = new(Build);

    public static AletheiaPersistentState Create(AletheiaPersistentState.Parts parts) => s_factory.Value(parts);

    private static Func<AletheiaPersistentState.Parts, AletheiaPersistentState> Build()
    {
        if (!System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported)
        {
            throw new PlatformNotSupportedException(
                "AletheiaPersistentState needs dynamic code (Reflection.Emit), which this runtime lacks (Native AOT): DotNext's IPersistentState cannot be implemented otherwise outside DotNext.");
        }

        var assembly = AssemblyBuilder.DefineDynamicAssembly(new AssemblyName("Aletheia.Wal.Raft.PersistentState"), AssemblyBuilderAccess.Run);
        ModuleBuilder module = assembly.DefineDynamicModule("Aletheia.Wal.Raft.PersistentState");

        // The attribute the runtime looks for by name, defined in the dynamic assembly itself (as DispatchProxy does).
        TypeBuilder attributeBuilder = module.DefineType(
            "System.Runtime.CompilerServices.IgnoresAccessChecksToAttribute", TypeAttributes.Public | TypeAttributes.Sealed | TypeAttributes.Class, typeof(Attribute));
        ConstructorBuilder attributeConstructor = attributeBuilder.DefineConstructor(MethodAttributes.Public, CallingConventions.HasThis, [typeof(string)]);
        ILGenerator il = attributeConstructor.GetILGenerator();
        il.Emit(OpCodes.Ldarg_0);
        il.Emit(OpCodes.Call, typeof(Attribute).GetConstructor(BindingFlags.NonPublic | BindingFlags.Instance, Type.EmptyTypes)!);
        il.Emit(OpCodes.Ret);
        Type attribute = attributeBuilder.CreateType();
        ConstructorInfo attributeCtor = attribute.GetConstructor([typeof(string)])!;
        assembly.SetCustomAttribute(new CustomAttributeBuilder(attributeCtor, [typeof(IPersistentState).Assembly.GetName().Name!]));
        assembly.SetCustomAttribute(new CustomAttributeBuilder(attributeCtor, [typeof(AletheiaPersistentState).Assembly.GetName().Name!]));

        TypeBuilder type = module.DefineType(
            "Aletheia.Wal.Raft.AletheiaPersistentStateImpl", TypeAttributes.Public | TypeAttributes.Sealed | TypeAttributes.Class, typeof(AletheiaPersistentState));
        type.AddInterfaceImplementation(typeof(IPersistentState));
        ConstructorInfo baseConstructor = typeof(AletheiaPersistentState).GetConstructor(
            BindingFlags.NonPublic | BindingFlags.Instance, [typeof(AletheiaPersistentState.Parts)])!;
        ConstructorBuilder constructor = type.DefineConstructor(MethodAttributes.Public, CallingConventions.HasThis, [typeof(AletheiaPersistentState.Parts)]);
        il = constructor.GetILGenerator();
        il.Emit(OpCodes.Ldarg_0);
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Call, baseConstructor);
        il.Emit(OpCodes.Ret);

        // A static factory on the type, so that each Open is a plain delegate call.
        MethodBuilder create = type.DefineMethod(
            "Create", MethodAttributes.Public | MethodAttributes.Static, typeof(AletheiaPersistentState), [typeof(AletheiaPersistentState.Parts)]);
        il = create.GetILGenerator();
        il.Emit(OpCodes.Ldarg_0);
        il.Emit(OpCodes.Newobj, constructor);
        il.Emit(OpCodes.Ret);

        Type built = type.CreateType();
        return built.GetMethod("Create")!.CreateDelegate<Func<AletheiaPersistentState.Parts, AletheiaPersistentState>>();
    }
}
